{{/*
The training Job spec, shared by the retrain CronJob's jobTemplate and the initial Job, so
`kubectl create job --from=cronjob/...` runs exactly what the install ran.
*/}}
{{- define "calhousing.trainingJobSpec" -}}
backoffLimit: {{ .Values.training.backoffLimit }}
activeDeadlineSeconds: {{ .Values.training.activeDeadlineSeconds }}
ttlSecondsAfterFinished: {{ .Values.training.ttlSecondsAfterFinished }}
podFailurePolicy:
  rules:
    # Exit code 2 is a CLI usage error (a flag or command the image does not have): a retry
    # cannot fix it.
    - action: FailJob
      onExitCodes:
        containerName: train
        operator: In
        values: [2]
    # An evicted or preempted pod is not the pipeline's fault: retry without counting it.
    - action: Ignore
      onPodConditions:
        - type: DisruptionTarget
          status: "True"
template:
  metadata:
    labels:
      {{- include "calhousing.componentLabels" (dict "ctx" . "component" "training") | nindent 6 }}
  spec:
    restartPolicy: Never
    automountServiceAccountToken: false
    enableServiceLinks: false
    {{- with .Values.imagePullSecrets }}
    imagePullSecrets: {{- toYaml . | nindent 6 }}
    {{- end }}
    securityContext:
      {{- include "calhousing.podSecurityContext" . | nindent 6 }}
    initContainers:
      # Fail fast and clearly while MLflow starts (on install it starts with this Job).
      - name: wait-for-mlflow
        image: {{ include "calhousing.image" . }}
        imagePullPolicy: {{ .Values.image.pullPolicy }}
        command:
          - python
          - -c
          - |
            import os, sys, time, urllib.request
            url = os.environ["CALHOUSING_MLFLOW__TRACKING_URI"] + "/health"
            for _ in range(120):
                try:
                    urllib.request.urlopen(url, timeout=3)
                    sys.exit(0)
                except OSError:
                    time.sleep(5)
            sys.exit(f"MLflow is not healthy at {url} after 10 minutes")
        env:
          {{- include "calhousing.commonEnv" . | nindent 10 }}
        resources:
          requests: {cpu: 10m, memory: 64Mi}
          limits: {cpu: 100m, memory: 128Mi}
        securityContext:
          {{- include "calhousing.containerSecurityContext" . | nindent 10 }}
    containers:
      - name: train
        image: {{ include "calhousing.image" . }}
        imagePullPolicy: {{ .Values.image.pullPolicy }}
        args: [pipeline]
        # Relative data paths (data/raw, data/prepared, artifacts) land in the emptyDir.
        workingDir: /work
        env:
          {{- include "calhousing.commonEnv" . | nindent 10 }}
          - name: CALHOUSING_DATA__SOURCE
            value: {{ .Values.training.dataSource | quote }}
          {{- if eq .Values.mlflow.backend.type "postgresql" }}
          # The prediction log's labelled rows join a retrain's data (training/recent.py).
          {{- include "calhousing.predlogEnv" . | nindent 10 }}
          {{- else }}
          - name: CALHOUSING_PREDLOG__URL
            value: ""
          {{- end }}
          {{- include "calhousing.monitoringEnv" . | nindent 10 }}
          {{- include "calhousing.extraEnv" .Values.training.env | nindent 10 }}
        resources:
          {{- toYaml .Values.training.resources | nindent 10 }}
        securityContext:
          {{- include "calhousing.containerSecurityContext" . | nindent 10 }}
        volumeMounts:
          - {name: work, mountPath: /work}
          - {name: tmp, mountPath: /tmp}
    volumes:
      - name: work
        emptyDir: {sizeLimit: {{ .Values.training.workdirSizeLimit }}}
      - name: tmp
        emptyDir: {sizeLimit: 1Gi}
{{- end }}

{{/* checkov skips of the workloads that run the MLflow client (training, predictor). */}}
{{- define "calhousing.clientCheckovAnnotations" -}}
{{- $secretEnv := or .Values.mlflow.auth.enabled (eq .Values.mlflow.backend.type "postgresql") }}
{{- include "calhousing.checkovAnnotations" (dict "image" .Values.image "extra" (ternary (list (include "calhousing.secretEnvSkip" .)) list $secretEnv)) }}
{{- end }}

{{/* The first-model Job's spec: the retrain's, training only while no version is served. */}}
{{- define "calhousing.firstModelJobSpec" -}}
{{- $spec := include "calhousing.trainingJobSpec" . | fromYaml }}
{{- $train := index $spec.template.spec.containers 0 }}
{{- $_ := set $train "args" (list "pipeline" "--unless-served") }}
{{- toYaml $spec }}
{{- end }}

{{/* Its name: changes with its spec, since a Job's template cannot be updated in place. */}}
{{- define "calhousing.firstModelJob" -}}
{{- printf "%s-first-model-%s" (include "calhousing.fullname" .) (include "calhousing.firstModelJobSpec" . | sha256sum | trunc 8) }}
{{- end }}
