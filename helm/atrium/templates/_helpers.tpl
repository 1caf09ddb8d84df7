{{/* Names. The release's full name, cut to 63 characters (a DNS label). */}}
{{- define "atrium.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "atrium.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels: call with (dict "ctx" $ "component" "api"). */}}
{{- define "atrium.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atrium.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "atrium.labels" -}}
{{ include "atrium.selectorLabels" . }}
app.kubernetes.io/part-of: atrium
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selects the pods that run Atrium itself (api, worker, migrate): the NetworkPolicies' subject and peer. */}}
{{- define "atrium.appPodSelector" -}}
matchLabels:
  app.kubernetes.io/name: {{ include "atrium.name" . }}
  app.kubernetes.io/instance: {{ .Release.Name }}
matchExpressions:
  - key: app.kubernetes.io/component
    operator: In
    values: [api, worker, migrate]
{{- end -}}

{{- define "atrium.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "atrium.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "atrium.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* URLs of the services, bundled or external. */}}
{{- define "atrium.meilisearchUrl" -}}
{{- if .Values.meilisearch.bundled.enabled -}}
{{- printf "http://%s-meilisearch:7700" (include "atrium.fullname" .) -}}
{{- else -}}
{{- .Values.meilisearch.url -}}
{{- end -}}
{{- end -}}

{{- define "atrium.ollamaUrl" -}}
{{- if .Values.ollama.bundled.enabled -}}
{{- printf "http://%s-ollama:11434" (include "atrium.fullname" .) -}}
{{- else -}}
{{- .Values.ollama.url -}}
{{- end -}}
{{- end -}}

{{- define "atrium.publicBaseUrl" -}}
{{- if .Values.publicBaseUrl -}}
{{- .Values.publicBaseUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) (first .Values.ingress.hosts) -}}
{{- end -}}
{{- end -}}

{{/*
What a release cannot run without. The schema checks shapes; these need the values together,
and say which value to set.
*/}}
{{- define "atrium.validate" -}}
{{- if not .Values.image.repository -}}
{{- fail "image.repository is required: where you pushed the image built from deploy/Dockerfile" -}}
{{- end -}}
{{- if not .Values.database.existingSecret -}}
{{- fail "database.existingSecret is required: a Secret whose key database.secretKey holds the PostgreSQL URL" -}}
{{- end -}}
{{- if not (and .Values.auth.issuerUrl .Values.auth.audience) -}}
{{- fail "auth.issuerUrl and auth.audience are required: production Atrium accepts only Keycloak (OIDC) tokens" -}}
{{- end -}}
{{- if eq .Values.search.engine "meilisearch" -}}
{{- if not (include "atrium.meilisearchUrl" .) -}}
{{- fail "search.engine=meilisearch needs meilisearch.url or meilisearch.bundled.enabled=true" -}}
{{- end -}}
{{- if not .Values.meilisearch.existingSecret -}}
{{- fail "search.engine=meilisearch needs meilisearch.existingSecret (the API key; the bundled server's master key)" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.meilisearch.bundled.enabled (not .Values.meilisearch.existingSecret) -}}
{{- fail "meilisearch.bundled.enabled needs meilisearch.existingSecret: its master key (at least 16 bytes)" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) -}}
{{- fail "ingress.enabled needs at least one host in ingress.hosts" -}}
{{- end -}}
{{- if and (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) -}}
{{- fail "serviceAccount.create=false needs serviceAccount.name (an existing ServiceAccount)" -}}
{{- end -}}
{{- end -}}

{{/*
The non-secret environment, shared by the ConfigMap (api, worker) and the migration Job, which
runs before the ConfigMap exists on a first install. Secrets never appear here.
*/}}
{{- define "atrium.env" -}}
NODE_ENV: production
HOST: 0.0.0.0
PORT: "4000"
ATRIUM_DATA_DIR: /var/lib/atrium
ATRIUM_CONFIG: config/atrium.config.ts
AUTH_ISSUER_URL: {{ .Values.auth.issuerUrl | quote }}
AUTH_AUDIENCE: {{ .Values.auth.audience | quote }}
AUTH_DEV_TOKENS: "false"
SEARCH_ENGINE: {{ .Values.search.engine | quote }}
{{- with include "atrium.meilisearchUrl" . }}
MEILI_URL: {{ . | quote }}
{{- end }}
{{- with include "atrium.ollamaUrl" . }}
OLLAMA_URL: {{ . | quote }}
{{- end }}
{{- with include "atrium.publicBaseUrl" . }}
PUBLIC_BASE_URL: {{ . | quote }}
{{- end }}
{{- range $name, $value := .Values.settings }}
{{ $name }}: {{ include "atrium.envValue" $value }}
{{- end }}
{{- end -}}

{{/* A setting as an env value: YAML numbers reach templates as floats; print 1000000, not 1e+06. */}}
{{- define "atrium.envValue" -}}
{{- if kindIs "float64" . -}}
{{- int64 . | toString | quote -}}
{{- else -}}
{{- toString . | quote -}}
{{- end -}}
{{- end -}}

{{/* atrium.config.ts: the given file, or one generated from .Values.plugins. */}}
{{- define "atrium.configFile" -}}
{{- if .Values.configFile -}}
{{ .Values.configFile }}
{{- else -}}
// Generated by the atrium Helm chart from .Values.plugins; edit the values, not this file.
import { defineConfig } from '@atrium/core';
{{- range $i, $plugin := .Values.plugins }}
import * as plugin{{ $i }} from {{ $plugin.package | toJson }};
{{- end }}

export default defineConfig({
  plugins: [
{{- range $i, $plugin := .Values.plugins }}
    plugin{{ $i }}.{{ $plugin.export }}({
      ...{{ default dict $plugin.options | toJson }},
{{- range $option, $variable := $plugin.optionsFromEnv }}
      [{{ $option | toJson }}]: process.env[{{ $variable | toJson }}],
{{- end }}
    }),
{{- end }}
  ],
});
{{- end }}
{{- end -}}

{{/* Environment entries of a container: secret references, plain extras, then the role's settings. */}}
{{- define "atrium.containerEnv" -}}
{{- $ctx := .ctx -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.database.existingSecret }}
      key: {{ $ctx.Values.database.secretKey }}
{{- if $ctx.Values.meilisearch.existingSecret }}
- name: MEILI_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.meilisearch.existingSecret }}
      key: {{ $ctx.Values.meilisearch.secretKey }}
{{- end }}
{{- range $ctx.Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- range $ctx.Values.extraEnv }}
- name: {{ .name }}
  value: {{ .value | toString | quote }}
{{- end }}
{{- range $name, $value := .settings }}
- name: {{ $name }}
  value: {{ include "atrium.envValue" $value }}
{{- end }}
{{- end -}}

{{/* Writable places under a read-only root file system, and the plugin configuration. */}}
{{- define "atrium.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/atrium
- name: config
  mountPath: /app/config
  readOnly: true
{{- end -}}

{{- define "atrium.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
- name: data
  emptyDir:
    sizeLimit: 256Mi
- name: config
  configMap:
    name: {{ .configMap }}
{{- end -}}

{{/* The default spread of a role's pods over nodes and zones, best effort. */}}
{{- define "atrium.topologySpread" -}}
{{- $labels := include "atrium.selectorLabels" (dict "ctx" .ctx "component" .component) | fromYaml -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels: {{- toYaml $labels | nindent 6 }}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels: {{- toYaml $labels | nindent 6 }}
{{- end -}}

{{/* terminationGracePeriodSeconds: Atrium drains HTTP, then jobs, each up to SHUTDOWN_TIMEOUT_MS. */}}
{{- define "atrium.gracePeriod" -}}
{{- $ms := int (default 15000 (default (index .ctx.Values.settings "SHUTDOWN_TIMEOUT_MS") (index .settings "SHUTDOWN_TIMEOUT_MS"))) -}}
{{- add (div (mul 2 $ms) 1000) 10 .extra -}}
{{- end -}}

{{/* An egress rule to an external service from networkPolicy.egress.<name>. */}}
{{- define "atrium.egressTo" -}}
{{- $rule := index .ctx.Values.networkPolicy.egress .name -}}
# {{ .name }}{{ if not $rule.to }}: any address on these ports (set networkPolicy.egress.{{ .name }}.to to pin it){{ end }}
- {{- with $rule.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    {{- range $rule.ports }}
    - { port: {{ . }}, protocol: TCP }
    {{- end }}
{{- end -}}

{{/* An egress rule to a bundled StatefulSet of this release. */}}
{{- define "atrium.egressToBundled" -}}
# {{ .name }}: the bundled StatefulSet
- to:
    - podSelector:
        matchLabels:
          {{- include "atrium.selectorLabels" (dict "ctx" .ctx "component" .name) | nindent 10 }}
  ports:
    - { port: {{ .port }}, protocol: TCP }
{{- end -}}
