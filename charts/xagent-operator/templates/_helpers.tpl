{{/*
The chart name, or nameOverride.
*/}}
{{- define "xagent-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else RELEASE-NAME,
else RELEASE when it already contains the chart name. At most 63 characters.
*/}}
{{- define "xagent-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The chart label value: NAME-VERSION.
*/}}
{{- define "xagent-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the operator's pods. Kept minimal: Deployment selectors are immutable.
*/}}
{{- define "xagent-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "xagent-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The recommended app.kubernetes.io labels every object of the chart carries.
*/}}
{{- define "xagent-operator.labels" -}}
helm.sh/chart: {{ include "xagent-operator.chart" . }}
{{ include "xagent-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: xagent-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The ServiceAccount the operator runs as.
*/}}
{{- define "xagent-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "xagent-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The operator image, repository:tag; the tag defaults to the chart's appVersion.
*/}}
{{- define "xagent-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
"true" when leader election is on: asked for, or needed by more than one replica. Empty otherwise.
*/}}
{{- define "xagent-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/*
The Lease used for leader election, in the release namespace.
*/}}
{{- define "xagent-operator.leaseName" -}}
{{- default (include "xagent-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
"true" in namespaced mode (watchNamespaces is not empty). Empty otherwise.
*/}}
{{- define "xagent-operator.namespaced" -}}
{{- if .Values.watchNamespaces }}true{{ end }}
{{- end }}

{{/*
The watched namespaces in namespaced mode, comma-separated as --namespace takes them.
*/}}
{{- define "xagent-operator.watchNamespace" -}}
{{- join "," .Values.watchNamespaces }}
{{- end }}

{{/*
Namespace of the XAgent the chart creates (xagent.enabled): one the operator
watches. The release namespace when it is watched, else the first watched one.
*/}}
{{- define "xagent-operator.xagentNamespace" -}}
{{- if and (include "xagent-operator.namespaced" .) (not (has .Release.Namespace .Values.watchNamespaces)) }}
{{- first .Values.watchNamespaces }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
Whether to render an object of a Prometheus Operator or Grafana kind: "true"
when `enabled` is true, or "auto" and the cluster serves `api` (a
GROUP/VERSION/KIND that .Capabilities.APIVersions knows), else empty.
Call with (dict "enabled" VALUE "api" "GROUP/VERSION/KIND" "root" $).
*/}}
{{- define "xagent-operator.wanted" -}}
{{- $enabled := toString .enabled -}}
{{- if or (eq $enabled "true") (and (eq $enabled "auto") (.root.Capabilities.APIVersions.Has .api)) -}}
true
{{- end -}}
{{- end }}
