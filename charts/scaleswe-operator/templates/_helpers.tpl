{{- define "scaleswe.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "scaleswe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "scaleswe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scaleswe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "scaleswe.labels" -}}
{{ include "scaleswe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "scaleswe.watchNamespace" -}}
{{- if .Values.clusterScoped -}}{{- else -}}{{ default .Release.Namespace .Values.watchNamespace }}{{- end -}}
{{- end -}}

{{- define "scaleswe.serviceAccountName" -}}
{{- default (include "scaleswe.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}
