{{/*
One role's Deployment and its PodDisruptionBudget. Called with a dict:
  root       the chart's root context ($)
  name       the objects' name after the full name: api, dispatcher, worker-SITE
  component  api, dispatcher or worker
  site       the worker's site, else empty
  spec       the role's values: replicas, resources, pdb, podAnnotations,
             nodeSelector, tolerations, affinity, topologySpreadConstraints
  args       the command line: the role, then the flags the chart owns
  port       the container port: name and number (the API's, or --health-addr)
  shutdown   seconds the role may take to stop; the grace period adds the margin
  secretKey  mount secret.key (api, worker)
  api        mount the tokens, the webhook secrets and rules
*/}}
{{- define "tinman.deployment" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $labels := include "tinman.componentLabels" . }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tinman.fullname" $root }}-{{ .name }}
  labels:
    {{- include "tinman.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
    {{- with .site }}
    tinman/site: {{ . }}
    {{- end }}
spec:
  replicas: {{ .spec.replicas }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: {{ $v.rollingUpdate.maxSurge }}
  selector:
    matchLabels:
      {{- $labels | nindent 6 }}
  template:
    metadata:
      labels:
        {{- $labels | nindent 8 }}
        {{- include "tinman.commonLabels" $root | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- if $v.secrets.create }}
        checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
        {{- end }}
        {{- with .spec.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "tinman.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      terminationGracePeriodSeconds: {{ add .shutdown $v.terminationGraceMarginSeconds }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "tinman.image" $root }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          ports:
            - name: {{ .port.name }}
              containerPort: {{ .port.number }}
              protocol: TCP
          env:
            {{- include "tinman.connectionEnv" $root | nindent 12 }}
            {{- if .api }}
            {{- include "tinman.webhookEnv" $root | trim | nindent 12 }}
            {{- end }}
          startupProbe:
            {{- include "tinman.probe" (dict "path" "/healthz" "port" .port.name "probe" $v.probes.startup) | nindent 12 }}
          livenessProbe:
            {{- include "tinman.probe" (dict "path" "/healthz" "port" .port.name "probe" $v.probes.liveness) | nindent 12 }}
          readinessProbe:
            {{- include "tinman.probe" (dict "path" "/readyz" "port" .port.name "probe" $v.probes.readiness) | nindent 12 }}
          resources:
            {{- toYaml .spec.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/tinman/config
              readOnly: true
            {{- if or .secretKey .api }}
            - name: secret
              mountPath: /etc/tinman/secret
              readOnly: true
            {{- end }}
            {{- if $v.nats.credsSecret.name }}
            - name: nats-creds
              mountPath: /etc/tinman/nats-creds
              readOnly: true
            {{- end }}
            {{- if $v.nats.caSecret.name }}
            - name: nats-ca
              mountPath: /etc/tinman/nats-ca
              readOnly: true
            {{- end }}
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: config
          configMap:
            name: {{ include "tinman.fullname" $root }}
        {{- if or .secretKey .api }}
        - name: secret
          secret:
            secretName: {{ include "tinman.secretName" $root }}
            defaultMode: 0440
            items:
              {{- if .secretKey }}
              - key: secret.key
                path: secret.key
              {{- end }}
              {{- if .api }}
              - key: tokens
                path: tokens
              {{- end }}
        {{- end }}
        {{- with $v.nats.credsSecret.name }}
        - name: nats-creds
          secret:
            secretName: {{ . }}
            defaultMode: 0440
        {{- end }}
        {{- with $v.nats.caSecret.name }}
        - name: nats-ca
          secret:
            secretName: {{ . }}
            defaultMode: 0444
        {{- end }}
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
      {{- with .spec.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .spec.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .spec.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .spec.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "tinman.fullname" $root }}-{{ .name }}
  labels:
    {{- include "tinman.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- toYaml .spec.pdb | nindent 2 }}
  selector:
    matchLabels:
      {{- $labels | nindent 6 }}
{{- end }}
