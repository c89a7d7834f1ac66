{{/* The predictor container, the same in KServe's ServingRuntime and the plain Deployment. */}}
{{- define "calhousing.predictorContainer" -}}
{{- $ready := printf "/v2/models/%s/ready" .Values.model.name }}
image: {{ include "calhousing.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
args: [serve]
env:
  {{- include "calhousing.commonEnv" . | nindent 2 }}
  # Pods are reached on their own IP, not on loopback.
  {{- if eq .Values.mlflow.backend.type "postgresql" }}
  # Every served row goes to the prediction log on the release's PostgreSQL (its own database),
  # which the drift check reads and which shows which version answered each request.
  {{- include "calhousing.predlogEnv" . | nindent 2 }}
  {{- else }}
  # No database of the release to log to (a pod's disk is no log): the prediction log is off.
  - name: CALHOUSING_PREDLOG__URL
    value: ""
  {{- end }}
  - name: CALHOUSING_SERVE__HOST
    value: 0.0.0.0
  - name: CALHOUSING_SERVE__HTTP_PORT
    value: "8080"
  - name: CALHOUSING_SERVE__GRPC_PORT
    value: "8081"
  - name: CALHOUSING_SERVE__METRICS_PORT
    value: "8082"
  # MLServer's scratch space (metrics files, model downloads) on the emptyDir.
  - name: CALHOUSING_SERVE__WORKDIR
    value: /work/mlserver
  # Wait, not ready, for the model as long as the startup probe allows: a fresh install's
  # predictor waits for the first training Job instead of exiting and crash-looping.
  - name: CALHOUSING_SERVE__MODEL_WAIT_S
    value: {{ sub .Values.serving.startupSeconds 30 | quote }}
  # Serving follows the alias: a promoted (or rolled back) version is served within a period.
  - name: CALHOUSING_SERVE__FOLLOW_ALIAS_S
    value: {{ .Values.serving.followAliasSeconds | quote }}
  {{- with .Values.serving.modelUri }}
  - name: CALHOUSING_SERVE__MODEL_URI
    value: {{ . | quote }}
  {{- end }}
  {{- include "calhousing.extraEnv" .Values.serving.env | nindent 2 }}
ports:
  # KServe maps the first port to its Service's port 80 and keeps the others as they are.
  - {name: http, containerPort: 8080, protocol: TCP}
  - {name: grpc, containerPort: 8081, protocol: TCP}
  - {name: metrics, containerPort: 8082, protocol: TCP}
# The port opens long before the model is loaded, and /v2/health/ready is true even after a
# failed load: only the model's own ready endpoint says it can answer.
startupProbe:
  httpGet: {path: {{ $ready }}, port: 8080}
  periodSeconds: 5
  failureThreshold: {{ div .Values.serving.startupSeconds 5 }}
readinessProbe:
  httpGet: {path: {{ $ready }}, port: 8080}
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  httpGet: {path: /v2/health/live, port: 8080}
  periodSeconds: 20
  failureThreshold: 3
  timeoutSeconds: 5
# A terminating pod keeps answering until every node has dropped it from the Service: without
# this pause a rollout refused requests kube-proxy still sent it (5 s was not enough here).
# The marker (CALHOUSING_SERVE__WORKDIR/draining) makes every answer meanwhile close its
# connection, so keep-alive clients move to a pod that stays (inference/drain.py).
lifecycle:
  preStop:
    exec:
      command: ["sh", "-c", "touch /work/mlserver/draining && sleep 15"]
resources:
  {{- toYaml .Values.serving.resources | nindent 2 }}
securityContext:
  {{- include "calhousing.containerSecurityContext" . | nindent 2 }}
volumeMounts:
  - {name: work, mountPath: /work}
  - {name: tmp, mountPath: /tmp}
{{- end }}

{{- define "calhousing.predictorVolumes" -}}
- name: work
  emptyDir: {sizeLimit: 1Gi}
- name: tmp
  emptyDir: {sizeLimit: 1Gi}
{{- end }}
