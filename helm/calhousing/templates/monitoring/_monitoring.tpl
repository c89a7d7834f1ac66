{{/* Monitoring: names and the environment batch Jobs push their metrics with. */}}

{{- define "calhousing.pushgatewayName" -}}
{{- printf "%s-pushgateway" (include "calhousing.fullname" .) }}
{{- end }}

{{/* The Pushgateway batch Jobs push to: the one given, else the chart's own, else none. */}}
{{- define "calhousing.pushgatewayUrl" -}}
{{- $gateway := .Values.monitoring.pushgateway }}
{{- if $gateway.url }}
{{- $gateway.url }}
{{- else if $gateway.deploy }}
{{- printf "http://%s:9091" (include "calhousing.pushgatewayName" .) }}
{{- end }}
{{- end }}

{{/* Environment of the Jobs that push (training; the drift check later): nothing when off. */}}
{{- define "calhousing.monitoringEnv" -}}
{{- with include "calhousing.pushgatewayUrl" . }}
- name: CALHOUSING_MONITORING__PUSHGATEWAY_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/* Labels of the Prometheus Operator objects: the chart's, plus what the stack selects on. */}}
{{- define "calhousing.monitoringLabels" -}}
{{ include "calhousing.componentLabels" (dict "ctx" .ctx "component" .component) }}
{{- with .ctx.Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}
