{{- define "modelops.name" -}}
{{- default .Chart.Name .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelops.labels" -}}
app.kubernetes.io/name: modelops
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "modelops.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "modelops.logsinkName" -}}
{{- printf "%s-logsink" (include "modelops.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelops.logsinkSelector" -}}
app.kubernetes.io/name: modelops-logsink
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "modelops.logsinkLabels" -}}
{{ include "modelops.logsinkSelector" . }}
app.kubernetes.io/component: prediction-log-sink
app.kubernetes.io/part-of: modelops
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- /* The URL KServe's request logger posts to: the sink's Service, unless config.serving.logSinkUrl says otherwise. */ -}}
{{- define "modelops.logsinkUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "modelops.logsinkName" .) .Release.Namespace (int .Values.logsink.port) -}}
{{- end -}}

{{- /* The operator's configuration, with serving.logSinkUrl pointing at the chart's sink by default. */ -}}
{{- define "modelops.operatorConfig" -}}
{{- $config := deepCopy .Values.config -}}
{{- if .Values.logsink.enabled -}}
{{- $serving := deepCopy (default (dict) $config.serving) -}}
{{- if not $serving.logSinkUrl -}}
{{- $_ := set $serving "logSinkUrl" (include "modelops.logsinkUrl" .) -}}
{{- end -}}
{{- $_ := set $config "serving" $serving -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{- /* The sink's configuration: listen on the Service's port, everything else from values. */ -}}
{{- define "modelops.logsinkConfig" -}}
{{- $config := deepCopy .Values.logsink.config -}}
{{- $_ := set $config "listen" (printf "0.0.0.0:%d" (int .Values.logsink.port)) -}}
{{- toYaml $config -}}
{{- end -}}

{{- /* The operator's Pod labels a Service may select on (never the sink's: its name label differs). */ -}}
{{- define "modelops.selector" -}}
app.kubernetes.io/name: modelops
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* The job label Prometheus gives the operator's series: the Prometheus Operator names the job
after the Service a ServiceMonitor found the target through. The rules select on it. */ -}}
{{- define "modelops.metricsJob" -}}
{{- printf "%s-metrics" (include "modelops.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* The sink's image: logsink.image when it names a repository, else the operator's. */ -}}
{{- define "modelops.logsinkImage" -}}
{{- $image := .Values.logsink.image | default dict -}}
{{- if not $image.repository -}}
{{ include "modelops.image" . }}
{{- else if $image.digest -}}
{{ $image.repository }}@{{ $image.digest }}
{{- else -}}
{{ $image.repository }}:{{ default .Values.image.tag $image.tag }}
{{- end -}}
{{- end -}}
