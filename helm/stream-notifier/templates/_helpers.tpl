{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "stream-notifier.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart name unless it contains it. */}}
{{- define "stream-notifier.fullname" -}}
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

{{- define "stream-notifier.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stream-notifier.labels" -}}
helm.sh/chart: {{ include "stream-notifier.chart" . }}
{{ include "stream-notifier.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "stream-notifier.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stream-notifier.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "stream-notifier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "stream-notifier.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "stream-notifier.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/* The Secret and key that hold the API key; fails when neither source is given. */}}
{{- define "stream-notifier.apiKeySecretName" -}}
{{- if .Values.apiKey.existingSecret }}
{{- .Values.apiKey.existingSecret }}
{{- else if .Values.apiKey.value }}
{{- printf "%s-api-key" (include "stream-notifier.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- fail "the notifications API key is required: set apiKey.existingSecret (a Secret that exists) or apiKey.value (the chart creates a Secret)" }}
{{- end }}
{{- end }}

{{- define "stream-notifier.apiKeySecretKey" -}}
{{- if .Values.apiKey.existingSecret }}
{{- required "apiKey.existingSecretKey is required with apiKey.existingSecret" .Values.apiKey.existingSecretKey }}
{{- else }}
{{- "api-key" }}
{{- end }}
{{- end }}

{{/*
The service's config.yaml: .Values.config with `routes` pointing at the routes.yaml beside it.
The API key belongs in a Secret, never in the ConfigMap.
*/}}
{{- define "stream-notifier.configYaml" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- if not (kindIs "map" $config) }}
{{- fail "config must be a mapping (the service's config.yaml)" }}
{{- end }}
{{- $api := get $config "api" | default dict }}
{{- if and (kindIs "map" $api) (hasKey $api "api_key") }}
{{- fail "config.api.api_key would put the API key into a ConfigMap: use apiKey.existingSecret or apiKey.value" }}
{{- end }}
{{- $_ := set $config "routes" "routes.yaml" }}
{{- toYaml $config }}
{{- end }}

{{- define "stream-notifier.routesYaml" -}}
{{- $routes := .Values.routes | default dict }}
{{- if or (not (kindIs "map" $routes)) (empty (get $routes "routes")) }}
{{- fail "routes must be a routes file (version, routes: [...]) with at least one route" }}
{{- end }}
{{- toYaml $routes }}
{{- end }}

{{/*
config.delivery.shutdown_timeout in seconds (a number, or a duration such as 500ms, 15s, 2m),
15 when unset: the service's default.
*/}}
{{- define "stream-notifier.shutdownTimeoutSeconds" -}}
{{- $delivery := get (.Values.config | default dict) "delivery" | default dict }}
{{- $raw := get $delivery "shutdown_timeout" | default 15 | toString | trim }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $raw }}
{{- $unit := regexReplaceAll "^[0-9]+(\\.[0-9]+)?\\s*" $raw "" }}
{{- if not $number }}
{{- fail (printf "config.delivery.shutdown_timeout: not a duration: %q" $raw) }}
{{- end }}
{{- $factors := dict "" 1.0 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 "d" 86400.0 }}
{{- if not (hasKey $factors $unit) }}
{{- fail (printf "config.delivery.shutdown_timeout: unknown unit in %q" $raw) }}
{{- end }}
{{- mulf (float64 $number) (get $factors $unit) }}
{{- end }}
