{{/*
Chart name, truncated to the 63 characters Kubernetes allows in names.
*/}}
{{- define "leadpipe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every resource. Kept to 40 characters so that
"<prefix>-consumer-metrics" and similar names stay valid.
*/}}
{{- define "leadpipe.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "leadpipe.gateway.fullname" -}}
{{- printf "%s-gateway" (include "leadpipe.fullname" .) }}
{{- end }}

{{- define "leadpipe.consumer.fullname" -}}
{{- printf "%s-consumer" (include "leadpipe.fullname" .) }}
{{- end }}

{{- define "leadpipe.migrations.fullname" -}}
{{- printf "%s-migrate" (include "leadpipe.fullname" .) }}
{{- end }}

{{- define "leadpipe.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every resource.
*/}}
{{- define "leadpipe.labels" -}}
helm.sh/chart: {{ include "leadpipe.chart" . }}
app.kubernetes.io/name: {{ include "leadpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: leadpipe
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels of one component. Usage:
  include "leadpipe.selectorLabels" (dict "ctx" $ "component" "gateway")
*/}}
{{- define "leadpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "leadpipe.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
All labels of one component's resources.
*/}}
{{- define "leadpipe.componentLabels" -}}
{{ include "leadpipe.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "leadpipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "leadpipe.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository@digest when a digest is set, else repository:tag
with the tag defaulting to the chart appVersion. Usage:
  include "leadpipe.image" (dict "image" .Values.gateway.image "ctx" $)
*/}}
{{- define "leadpipe.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/*
Secret holding the database URL, and the key inside it.
*/}}
{{- define "leadpipe.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "leadpipe.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Topology spread constraints of one component: the custom list when given,
otherwise spreading across zones (as strict as configured) and, best effort,
across nodes. `pod-template-hash` makes each rollout spread on its own.
Usage:
  include "leadpipe.topologySpread" (dict "ctx" $ "component" "gateway" "values" .Values.gateway)
*/}}
{{- define "leadpipe.topologySpread" -}}
{{- if .values.topologySpreadConstraints }}
{{- toYaml .values.topologySpreadConstraints }}
{{- else if .values.topologySpread.enabled }}
{{- $constraints := list (list "topology.kubernetes.io/zone" .values.topologySpread.whenUnsatisfiable) (list "kubernetes.io/hostname" "ScheduleAnyway") }}
{{- range $constraints }}
- maxSkew: {{ $.values.topologySpread.maxSkew }}
  topologyKey: {{ index . 0 }}
  whenUnsatisfiable: {{ index . 1 }}
  labelSelector:
    matchLabels:
      {{- include "leadpipe.selectorLabels" (dict "ctx" $.ctx "component" $.component) | nindent 6 }}
  matchLabelKeys:
    - pod-template-hash
{{- end }}
{{- end }}
{{- end }}

{{/*
Cross-field checks that values.schema.json cannot express. Rendered from the
ConfigMap template so every install, upgrade and template run evaluates it.
*/}}
{{- define "leadpipe.validateValues" -}}
{{- $partitions := int .Values.kafka.topicPartitions }}
{{- if and .Values.keda.enabled (gt (int .Values.keda.maxReplicas) $partitions) }}
{{- fail (printf "keda.maxReplicas (%d) must not exceed kafka.topicPartitions (%d): consumers beyond the partition count stay idle" (int .Values.keda.maxReplicas) $partitions) }}
{{- end }}
{{- if and .Values.keda.enabled (gt (int .Values.keda.minReplicas) (int .Values.keda.maxReplicas)) }}
{{- fail (printf "keda.minReplicas (%d) must not exceed keda.maxReplicas (%d)" (int .Values.keda.minReplicas) (int .Values.keda.maxReplicas)) }}
{{- end }}
{{- if and (not .Values.keda.enabled) (gt (int .Values.consumer.replicaCount) $partitions) }}
{{- fail (printf "consumer.replicaCount (%d) must not exceed kafka.topicPartitions (%d): consumers beyond the partition count stay idle" (int .Values.consumer.replicaCount) $partitions) }}
{{- end }}
{{- with .Values.gateway.autoscaling }}
{{- if and .enabled (gt (int .minReplicas) (int .maxReplicas)) }}
{{- fail (printf "gateway.autoscaling.minReplicas (%d) must not exceed gateway.autoscaling.maxReplicas (%d)" (int .minReplicas) (int .maxReplicas)) }}
{{- end }}
{{- end }}
{{- if and .Values.gateway.autoscaling.enabled (not (dig "requests" "cpu" "" .Values.gateway.resources)) }}
{{- fail "gateway.resources.requests.cpu is required when gateway.autoscaling.enabled is true: the HPA scales on CPU utilisation of the request" }}
{{- end }}
{{- if ge (int .Values.gateway.preStopSleepSeconds) (int .Values.gateway.terminationGracePeriodSeconds) }}
{{- fail (printf "gateway.preStopSleepSeconds (%d) must be lower than gateway.terminationGracePeriodSeconds (%d), leaving time to drain in-flight requests" (int .Values.gateway.preStopSleepSeconds) (int .Values.gateway.terminationGracePeriodSeconds)) }}
{{- end }}
{{- if and (not .Values.database.existingSecret) (not .Values.database.url) }}
{{- fail "database: set database.url or database.existingSecret" }}
{{- end }}
{{- if and .Values.gateway.ingress.enabled (not .Values.gateway.ingress.hosts) }}
{{- fail "gateway.ingress.hosts must list at least one host when gateway.ingress.enabled is true" }}
{{- end }}
{{- end }}
