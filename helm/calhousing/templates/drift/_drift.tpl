{{/* The drift check: names and the prediction store's URL (the MLflow PostgreSQL server, its
own database and role; the role's password comes from the PostgreSQL Secret's
`predlog-password` through $(PREDLOG_PASSWORD), never MLflow's superuser one). */}}

{{- define "calhousing.driftName" -}}
{{- printf "%s-drift" (include "calhousing.fullname" .) }}
{{- end }}

{{- define "calhousing.predlogEnv" -}}
- name: PREDLOG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.existingSecret | default (printf "%s-postgresql" (include "calhousing.fullname" .)) }}
      key: predlog-password
- name: CALHOUSING_PREDLOG__URL
  value: {{ printf "postgresql://%s:$(PREDLOG_PASSWORD)@%s-postgresql:5432/%s" .Values.postgresql.predlogUsername (include "calhousing.fullname" .) .Values.drift.predlogDatabase | quote }}
{{- end }}
