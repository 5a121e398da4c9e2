{{/* Names, labels and the values every role shares. */}}

{{- define "tinman.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* RELEASE-tinman, or the release alone when it already says tinman. */}}
{{- define "tinman.fullname" -}}
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

{{- define "tinman.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tinman.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels that select nothing: who made the object, and which version. */}}
{{- define "tinman.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tinman.labels" -}}
{{ include "tinman.selectorLabels" . }}
{{ include "tinman.commonLabels" . }}
{{- end }}

{{/* The labels that pick one role's pods: a site's workers apart from another's. */}}
{{- define "tinman.componentLabels" -}}
{{ include "tinman.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- with .site }}
tinman/site: {{ . }}
{{- end }}
{{- end }}

{{- define "tinman.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "tinman.secretName" -}}
{{ .Values.secrets.name | default (include "tinman.fullname" .) }}
{{- end }}

{{- define "tinman.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- .Values.serviceAccount.name | default (include "tinman.fullname" .) }}
{{- else }}
{{- .Values.serviceAccount.name | default "default" }}
{{- end }}
{{- end }}

{{/* Refuses values that cannot work, naming them, before anything is applied. */}}
{{- define "tinman.validate" -}}
{{- $n := .Values.nats }}
{{- if not $n.urls }}
{{- fail "nats.urls: give at least one NATS URL" }}
{{- end }}
{{- $ways := 0 }}
{{- if $n.credsSecret.name }}{{ $ways = add1 $ways }}{{ end }}
{{- if or $n.user $n.passwordSecret.name }}{{ $ways = add1 $ways }}{{ end }}
{{- if $n.tokenSecret.name }}{{ $ways = add1 $ways }}{{ end }}
{{- if gt $ways 1 }}
{{- fail "nats: give one of credsSecret, user with passwordSecret, or tokenSecret" }}
{{- end }}
{{- if ne (empty $n.user) (empty $n.passwordSecret.name) }}
{{- fail "nats.user and nats.passwordSecret.name go together" }}
{{- end }}
{{- if or (lt (int $n.streamReplicas) 1) (gt (int $n.streamReplicas) 5) }}
{{- fail "nats.streamReplicas: from 1 to 5 (JetStream's limit), 3 on a 3-node cluster" }}
{{- end }}
{{- if not (regexMatch "^(redis|rediss|redis\\+sentinel)://" .Values.redis.url) }}
{{- fail "redis.url: redis://, rediss:// or redis+sentinel://" }}
{{- end }}
{{- if and .Values.redis.passwordSecret.name (contains "@" .Values.redis.url) }}
{{- fail "redis.url: write no password in it when redis.passwordSecret is set" }}
{{- end }}
{{- if .Values.secrets.create }}
{{- if or (not .Values.secrets.secretKey) (not .Values.secrets.tokens) }}
{{- fail "secrets.create: set secrets.secretKey and secrets.tokens (or make the Secret yourself: secrets.create false)" }}
{{- end }}
{{- end }}
{{- if not .Values.worker.sites }}
{{- fail "worker.sites: at least one site" }}
{{- end }}
{{- $seen := dict }}
{{- range .Values.worker.sites }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$" (toString .name)) }}
{{- fail (printf "worker.sites: %q is not a site name (lower-case letters, digits and -, at most 40)" (toString .name)) }}
{{- end }}
{{- if hasKey $seen .name }}
{{- fail (printf "worker.sites: %q is given twice" .name) }}
{{- end }}
{{- $_ := set $seen .name true }}
{{- end }}
{{- end }}

{{/* Where NATS and Redis are, and how to log in: the environment of every role.
Secrets only by reference; the Redis password joins the URL at run time. */}}
{{- define "tinman.connectionEnv" -}}
- name: TINMAN_CONFIG
  value: /etc/tinman/config/tinman.yaml
- name: TINMAN_NATS_URL
  value: {{ join "," .Values.nats.urls | quote }}
{{- with .Values.nats.credsSecret.name }}
- name: TINMAN_NATS_CREDS
  value: /etc/tinman/nats-creds/{{ $.Values.nats.credsSecret.key }}
{{- end }}
{{- if .Values.nats.user }}
- name: TINMAN_NATS_USER
  value: {{ .Values.nats.user | quote }}
- name: TINMAN_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.nats.passwordSecret.name }}
      key: {{ .Values.nats.passwordSecret.key }}
{{- end }}
{{- with .Values.nats.tokenSecret.name }}
- name: TINMAN_NATS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.nats.tokenSecret.key }}
{{- end }}
{{- with .Values.nats.caSecret.name }}
- name: TINMAN_NATS_CA
  value: /etc/tinman/nats-ca/{{ $.Values.nats.caSecret.key }}
{{- end }}
{{- if .Values.redis.passwordSecret.name }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.passwordSecret.name }}
      key: {{ .Values.redis.passwordSecret.key }}
- name: TINMAN_REDIS_URL
  value: {{ .Values.redis.url | replace "://" "://:$(REDIS_PASSWORD)@" | quote }}
{{- else }}
- name: TINMAN_REDIS_URL
  value: {{ .Values.redis.url | quote }}
{{- end }}
{{- end }}

{{/* The webhook secrets of the API: each optional, its route off without it. */}}
{{- define "tinman.webhookEnv" -}}
{{- range list "github" "generic" }}
- name: TINMAN_{{ upper . }}_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "tinman.secretName" $ }}
      key: {{ . }}-webhook-secret
      optional: true
{{- end }}
{{- end }}

{{- define "tinman.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
{{ toYaml .probe }}
{{- end }}
