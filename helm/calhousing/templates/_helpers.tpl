{{/* Names, labels and the pieces every workload shares. */}}

{{- define "calhousing.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every resource name; short enough for the longest suffix (-first-model-<hash>). */}}
{{- define "calhousing.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "calhousing.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "calhousing.selectorLabels" -}}
app.kubernetes.io/name: {{ include "calhousing.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "calhousing.labels" -}}
helm.sh/chart: {{ include "calhousing.chart" . }}
{{ include "calhousing.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: calhousing-mlops
{{- end }}

{{/* Labels of one component: call with (dict "ctx" $ "component" "mlflow"). */}}
{{- define "calhousing.componentLabels" -}}
{{ include "calhousing.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "calhousing.componentSelector" -}}
{{ include "calhousing.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "calhousing.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "calhousing.mlflowHost" -}}
{{- printf "%s-mlflow" (include "calhousing.fullname" .) }}
{{- end }}

{{- define "calhousing.trackingUri" -}}
{{- printf "http://%s:%d" (include "calhousing.mlflowHost" .) (int .Values.mlflow.port) }}
{{- end }}

{{/* The Service in front of the predictor: KServe names it <isvc>-predictor, plain mode copies that. */}}
{{- define "calhousing.predictorService" -}}
{{- printf "%s-predictor" (include "calhousing.fullname" .) }}
{{- end }}

{{/* Pod Security "restricted", pod level. */}}
{{- define "calhousing.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsUser }}
fsGroup: {{ .Values.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Pod Security "restricted", container level; the root filesystem is read-only too. */}}
{{- define "calhousing.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment every project container shares: settings file, MLflow, model identity. */}}
{{- define "calhousing.commonEnv" -}}
- name: CALHOUSING_PARAMS
  value: /app/params.yaml
- name: CALHOUSING_MLFLOW__TRACKING_URI
  value: {{ include "calhousing.trackingUri" . | quote }}
- name: CALHOUSING_REGISTRY__MODEL_NAME
  value: {{ .Values.model.name | quote }}
- name: CALHOUSING_REGISTRY__ALIAS
  value: {{ .Values.model.alias | quote }}
# The root filesystem is read-only: libraries that write under $HOME write to the emptyDir.
- name: HOME
  value: /tmp
{{- if .Values.mlflow.auth.enabled }}
# Read by the MLflow client itself when it calls the tracking server.
- name: MLFLOW_TRACKING_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ .Values.mlflow.auth.existingSecret }}, key: username}
- name: MLFLOW_TRACKING_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.mlflow.auth.existingSecret }}, key: password}
{{- end }}
{{- end }}

{{/* Extra env from a values map, sorted so renders are stable. */}}
{{- define "calhousing.extraEnv" -}}
{{- range $key, $value := . }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/*
checkov skips of one workload, each with its reason: (dict "ctx" $ "image" .Values.image "extra" (list ...)).
The image skips vanish once values pin a digest or pull Always.
*/}}
{{- define "calhousing.checkovAnnotations" -}}
{{- $skips := list }}
{{- if not .image.digest }}
{{- $skips = append $skips "CKV_K8S_43=The image is pinned by tag from values; set its digest to pin it by content." }}
{{- end }}
{{- if ne (default "IfNotPresent" .image.pullPolicy) "Always" }}
{{- $skips = append $skips "CKV_K8S_15=IfNotPresent runs kind-loaded images and immutable tags; set pullPolicy Always for moving tags." }}
{{- end }}
{{- range $i, $skip := concat $skips (default list .extra) }}
checkov.io/skip{{ add1 $i }}: {{ $skip | quote }}
{{- end }}
{{- end }}

{{- define "calhousing.secretEnvSkip" -}}
CKV_K8S_35=Settings come from the environment only: MLflow's credentials and the prediction log's database URL.
{{- end }}

{{/* MLflow's store on the bundled PostgreSQL, as its superuser: only the MLflow pod has it. */}}
{{- define "calhousing.mlflowBackendEnv" -}}
{{- $fullname := include "calhousing.fullname" . }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (printf "%s-postgresql" $fullname) .Values.postgresql.existingSecret }}
      key: password
- name: CALHOUSING_MLFLOW__BACKEND_STORE_URI
  value: {{ printf "postgresql://%s:$(POSTGRES_PASSWORD)@%s-postgresql:5432/%s" .Values.postgresql.username $fullname .Values.postgresql.database | quote }}
{{- end }}

{{/* The Gateway listeners the routes attach to: those named, and the release's own Gateway. */}}
{{- define "calhousing.gatewayParents" -}}
{{- $parents := .Values.gateway.parentRefs }}
{{- if .Values.gateway.create.enabled }}
{{- $parents = append $parents (dict "name" (include "calhousing.fullname" .)) }}
{{- end }}
{{- toYaml $parents }}
{{- end }}
