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

{{- define "leadpipe.lagExporter.fullname" -}}
{{- printf "%s-lag-exporter" (include "leadpipe.fullname" .) }}
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
Kafka security. Secrets and CAs are mounted read-only as files; the binaries get
the file paths, never a secret value in an environment variable.
*/}}
{{- define "leadpipe.kafkaSasl" -}}
{{- if hasPrefix "sasl_" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{- define "leadpipe.kafkaTls" -}}
{{- if has .Values.kafka.securityProtocol (list "ssl" "sasl_ssl") }}true{{ end }}
{{- end }}

{{- define "leadpipe.kafkaCa" -}}
{{- if or .Values.kafka.tls.ca.secretName .Values.kafka.tls.ca.configMapName }}true{{ end }}
{{- end }}

{{- define "leadpipe.kafkaClientCert" -}}
{{- if .Values.kafka.tls.clientCert.secretName }}true{{ end }}
{{- end }}

{{/*
`kafka.properties` as librdkafka `key=value,key=value` (keys sorted).
*/}}
{{- define "leadpipe.kafkaProperties" -}}
{{- $pairs := list }}
{{- range $key, $value := .Values.kafka.properties }}
{{- $pairs = append $pairs (printf "%s=%s" $key (toString $value)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
ConfigMap entries of the Kafka connection, shared by the gateway and the consumer.
*/}}
{{- define "leadpipe.kafkaConfig" -}}
LEADPIPE_KAFKA_BROKERS: {{ .Values.kafka.brokers | quote }}
LEADPIPE_KAFKA_SECURITY_PROTOCOL: {{ .Values.kafka.securityProtocol | quote }}
{{- if include "leadpipe.kafkaSasl" . }}
LEADPIPE_KAFKA_SASL_MECHANISM: {{ .Values.kafka.sasl.mechanism | quote }}
LEADPIPE_KAFKA_SASL_USERNAME: {{ .Values.kafka.sasl.username | quote }}
LEADPIPE_KAFKA_SASL_PASSWORD_FILE: "/etc/leadpipe/kafka-sasl/password"
{{- end }}
{{- if include "leadpipe.kafkaCa" . }}
LEADPIPE_KAFKA_SSL_CA_LOCATION: "/etc/leadpipe/kafka-ca/ca.crt"
{{- end }}
{{- if include "leadpipe.kafkaClientCert" . }}
LEADPIPE_KAFKA_SSL_CERTIFICATE_LOCATION: "/etc/leadpipe/kafka-client/tls.crt"
LEADPIPE_KAFKA_SSL_KEY_LOCATION: "/etc/leadpipe/kafka-client/tls.key"
{{- if .Values.kafka.tls.clientCert.keyPasswordKey }}
LEADPIPE_KAFKA_SSL_KEY_PASSWORD_FILE: "/etc/leadpipe/kafka-client/key-password"
{{- end }}
{{- end }}
{{- if .Values.kafka.properties }}
LEADPIPE_KAFKA_PROPERTIES: {{ include "leadpipe.kafkaProperties" . | quote }}
{{- end }}
{{- end }}

{{/*
One read-only file volume from a Secret or a ConfigMap. Mode 0444: the
containers run a single non-root user, and the files stay readable whatever
fsGroup the pod security context uses. Usage:
  include "leadpipe.fileVolume" (dict "name" "kafka-ca" "secret" "s" "configMap" "" "items" (list (dict "key" "ca.crt" "path" "ca.crt")))
*/}}
{{- define "leadpipe.fileVolume" -}}
- name: {{ .name }}
  {{- if .secret }}
  secret:
    secretName: {{ .secret }}
  {{- else }}
  configMap:
    name: {{ .configMap }}
  {{- end }}
    defaultMode: 0444
    items:
      {{- range .items }}
      - key: {{ .key | quote }}
        path: {{ .path }}
      {{- end }}
{{- end }}

{{- define "leadpipe.kafkaVolumeMounts" -}}
{{- if include "leadpipe.kafkaSasl" . }}
- name: kafka-sasl
  mountPath: /etc/leadpipe/kafka-sasl
  readOnly: true
{{- end }}
{{- if include "leadpipe.kafkaCa" . }}
- name: kafka-ca
  mountPath: /etc/leadpipe/kafka-ca
  readOnly: true
{{- end }}
{{- if include "leadpipe.kafkaClientCert" . }}
- name: kafka-client-cert
  mountPath: /etc/leadpipe/kafka-client
  readOnly: true
{{- end }}
{{- end }}

{{- define "leadpipe.kafkaVolumes" -}}
{{- with .Values.kafka }}
{{- if include "leadpipe.kafkaSasl" $ }}
{{ include "leadpipe.fileVolume" (dict "name" "kafka-sasl" "secret" .sasl.existingSecret "items" (list (dict "key" .sasl.passwordKey "path" "password"))) }}
{{- end }}
{{- if include "leadpipe.kafkaCa" $ }}
{{ include "leadpipe.fileVolume" (dict "name" "kafka-ca" "secret" .tls.ca.secretName "configMap" .tls.ca.configMapName "items" (list (dict "key" .tls.ca.key "path" "ca.crt"))) }}
{{- end }}
{{- if include "leadpipe.kafkaClientCert" $ }}
{{- $items := list (dict "key" .tls.clientCert.certKey "path" "tls.crt") (dict "key" .tls.clientCert.keyKey "path" "tls.key") }}
{{- if .tls.clientCert.keyPasswordKey }}
{{- $items = append $items (dict "key" .tls.clientCert.keyPasswordKey "path" "key-password") }}
{{- end }}
{{ include "leadpipe.fileVolume" (dict "name" "kafka-client-cert" "secret" .tls.clientCert.secretName "items" $items) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
KEDA's Kafka trigger needs a TriggerAuthentication when the consumer uses SASL,
a private CA or a client certificate. Its name: the user's own
(keda.authenticationRef) or the chart's.
*/}}
{{- define "leadpipe.kedaChartAuth" -}}
{{- if and (not .Values.keda.authenticationRef) (or (include "leadpipe.kafkaSasl" .) (include "leadpipe.kafkaCa" .) (include "leadpipe.kafkaClientCert" .)) }}true{{ end }}
{{- end }}

{{- define "leadpipe.kedaAuthName" -}}
{{- if .Values.keda.authenticationRef }}
{{- .Values.keda.authenticationRef }}
{{- else if include "leadpipe.kedaChartAuth" . }}
{{- printf "%s-kafka" (include "leadpipe.consumer.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Database TLS and password file.
*/}}
{{- define "leadpipe.databaseCa" -}}
{{- if or .Values.database.ca.secretName .Values.database.ca.configMapName }}true{{ end }}
{{- end }}

{{- define "leadpipe.databaseCaPath" -}}
/etc/leadpipe/database-ca/ca.crt
{{- end }}

{{- define "leadpipe.databasePasswordPath" -}}
/etc/leadpipe/database-password/password
{{- end }}

{{/*
database.url with `sslmode` and `sslrootcert` appended from database.sslMode
and database.ca.
*/}}
{{- define "leadpipe.databaseUrl" -}}
{{- $url := .Values.database.url }}
{{- $params := list }}
{{- with .Values.database.sslMode }}
{{- $params = append $params (printf "sslmode=%s" .) }}
{{- end }}
{{- if include "leadpipe.databaseCa" . }}
{{- $params = append $params (printf "sslrootcert=%s" (include "leadpipe.databaseCaPath" .)) }}
{{- end }}
{{- if $params }}
{{- $separator := "?" }}
{{- if hasSuffix "?" $url }}
{{- $separator = "" }}
{{- else if contains "?" $url }}
{{- $separator = "&" }}
{{- end }}
{{- $url = printf "%s%s%s" $url $separator (join "&" $params) }}
{{- end }}
{{- $url }}
{{- end }}

{{- define "leadpipe.databaseVolumeMounts" -}}
{{- if include "leadpipe.databaseCa" . }}
- name: database-ca
  mountPath: /etc/leadpipe/database-ca
  readOnly: true
{{- end }}
{{- if .Values.database.password.existingSecret }}
- name: database-password
  mountPath: /etc/leadpipe/database-password
  readOnly: true
{{- end }}
{{- end }}

{{- define "leadpipe.databaseVolumes" -}}
{{- with .Values.database }}
{{- if include "leadpipe.databaseCa" $ }}
{{ include "leadpipe.fileVolume" (dict "name" "database-ca" "secret" .ca.secretName "configMap" .ca.configMapName "items" (list (dict "key" .ca.key "path" "ca.crt"))) }}
{{- end }}
{{- if .password.existingSecret }}
{{ include "leadpipe.fileVolume" (dict "name" "database-password" "secret" .password.existingSecret "items" (list (dict "key" .password.key "path" "password"))) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Gateway abuse protection: Redis shared limits, the key of their hashes and the
CAPTCHA provider's secret key. Secrets are mounted read-only as files, like the
Kafka and database ones.
*/}}
{{- define "leadpipe.gatewayRedis" -}}
{{- with .Values.gateway.config.redis }}{{ if or .url .existingSecret }}true{{ end }}{{ end }}
{{- end }}

{{- define "leadpipe.gatewayHashSecret" -}}
{{- with .Values.gateway.config.hashSecret }}{{ if or .existingSecret .value }}true{{ end }}{{ end }}
{{- end }}

{{- define "leadpipe.gatewayHashSecretName" -}}
{{- if .Values.gateway.config.hashSecret.existingSecret }}
{{- .Values.gateway.config.hashSecret.existingSecret }}
{{- else }}
{{- printf "%s-hash-secret" (include "leadpipe.gateway.fullname" .) }}
{{- end }}
{{- end }}

{{- define "leadpipe.gatewayHashSecretPath" -}}
/etc/leadpipe/hash-secret/hash-secret
{{- end }}

{{- define "leadpipe.gatewayCaptcha" -}}
{{- if .Values.gateway.config.captcha.verifyUrl }}true{{ end }}
{{- end }}

{{- define "leadpipe.gatewayCaptchaSecretPath" -}}
/etc/leadpipe/captcha-secret/secret
{{- end }}

{{- define "leadpipe.gatewayIpHashKey" -}}
{{- if .Values.gateway.config.consent.ipHashKey.existingSecret }}true{{ end }}
{{- end }}

{{- define "leadpipe.gatewayIpHashKeyPath" -}}
/etc/leadpipe/ip-hash-key/key
{{- end }}

{{- define "leadpipe.gatewayVolumeMounts" -}}
{{- if include "leadpipe.gatewayHashSecret" . }}
- name: hash-secret
  mountPath: /etc/leadpipe/hash-secret
  readOnly: true
{{- end }}
{{- if include "leadpipe.gatewayCaptcha" . }}
- name: captcha-secret
  mountPath: /etc/leadpipe/captcha-secret
  readOnly: true
{{- end }}
{{- if include "leadpipe.gatewayIpHashKey" . }}
- name: ip-hash-key
  mountPath: /etc/leadpipe/ip-hash-key
  readOnly: true
{{- end }}
{{- end }}

{{- define "leadpipe.gatewayVolumes" -}}
{{- with .Values.gateway.config }}
{{- if include "leadpipe.gatewayHashSecret" $ }}
{{ include "leadpipe.fileVolume" (dict "name" "hash-secret" "secret" (include "leadpipe.gatewayHashSecretName" $) "items" (list (dict "key" .hashSecret.key "path" "hash-secret"))) }}
{{- end }}
{{- if include "leadpipe.gatewayCaptcha" $ }}
{{ include "leadpipe.fileVolume" (dict "name" "captcha-secret" "secret" .captcha.secret.existingSecret "items" (list (dict "key" .captcha.secret.key "path" "secret"))) }}
{{- end }}
{{- if include "leadpipe.gatewayIpHashKey" $ }}
{{ include "leadpipe.fileVolume" (dict "name" "ip-hash-key" "secret" .consent.ipHashKey.existingSecret "items" (list (dict "key" .consent.ipHashKey.key "path" "key"))) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Port of a URL: the explicit one, else the scheme's default. Usage:
  include "leadpipe.urlPort" (dict "url" "https://example.com/x" "default" 443)
*/}}
{{- define "leadpipe.urlPort" -}}
{{- $authority := regexReplaceAll "^[a-zA-Z][-+.a-zA-Z0-9]*://([^/?#]*).*$" .url "${1}" }}
{{- $hostPort := regexReplaceAll "^.*@" $authority "" }}
{{- $port := regexFind ":[0-9]+$" (regexReplaceAll "^\\[.*\\]" $hostPort "") }}
{{- if $port }}{{ trimPrefix ":" $port }}{{ else }}{{ .default }}{{ end }}
{{- end }}

{{/*
NetworkPolicyPeer objects (YAML list) of one source or destination value:
{namespaceSelector, podSelector, cidrs}. Empty when nothing is set.
*/}}
{{- define "leadpipe.networkPolicyPeers" -}}
{{- $peers := list }}
{{- range .cidrs }}
{{- $peers = append $peers (dict "ipBlock" (dict "cidr" .)) }}
{{- end }}
{{- $selector := dict }}
{{- with .namespaceSelector }}
{{- $_ := set $selector "namespaceSelector" . }}
{{- end }}
{{- with .podSelector }}
{{- $_ := set $selector "podSelector" . }}
{{- end }}
{{- if $selector }}
{{- $peers = append $peers $selector }}
{{- end }}
{{- if $peers }}
{{- toYaml $peers }}
{{- end }}
{{- end }}

{{/*
Kafka broker ports: networkPolicy.kafka.ports, else the ports of kafka.brokers.
*/}}
{{- define "leadpipe.kafkaPorts" -}}
{{- $ports := list }}
{{- if .Values.networkPolicy.kafka.ports }}
{{- range .Values.networkPolicy.kafka.ports }}
{{- $ports = append $ports (int .) }}
{{- end }}
{{- else }}
{{- range splitList "," .Values.kafka.brokers }}
{{- $ports = append $ports (atoi (regexFind "[0-9]+$" .)) }}
{{- end }}
{{- end }}
{{- range uniq $ports }}
- port: {{ . }}
  protocol: TCP
{{- end }}
{{- end }}

{{/*
Redis ports: networkPolicy.redis.ports, else the port of gateway.config.redis.url
(6379 when it names none or the URL is in a Secret).
*/}}
{{- define "leadpipe.redisPorts" -}}
{{- $ports := list }}
{{- range .Values.networkPolicy.redis.ports }}
{{- $ports = append $ports (int .) }}
{{- end }}
{{- if not $ports }}
{{- $port := 6379 }}
{{- with .Values.gateway.config.redis.url }}
{{- $port = include "leadpipe.urlPort" (dict "url" . "default" 6379) | atoi }}
{{- end }}
{{- $ports = list $port }}
{{- end }}
{{- range uniq $ports }}
- port: {{ . }}
  protocol: TCP
{{- end }}
{{- end }}

{{/*
CAPTCHA verifier ports: networkPolicy.captcha.ports, else the port of
gateway.config.captcha.verifyUrl (443 for https, 80 for http).
*/}}
{{- define "leadpipe.captchaPorts" -}}
{{- $ports := list }}
{{- range .Values.networkPolicy.captcha.ports }}
{{- $ports = append $ports (int .) }}
{{- end }}
{{- if not $ports }}
{{- $url := .Values.gateway.config.captcha.verifyUrl }}
{{- $ports = list (include "leadpipe.urlPort" (dict "url" $url "default" (ternary 80 443 (hasPrefix "http://" $url))) | atoi) }}
{{- end }}
{{- range uniq $ports }}
- port: {{ . }}
  protocol: TCP
{{- end }}
{{- end }}

{{/*
Egress rules of one kind of pod: DNS always, Kafka and PostgreSQL on demand,
Redis and the CAPTCHA verifier on demand when the gateway uses them.
A destination without selectors and CIDRs allows its ports to any address.
Usage:
  include "leadpipe.egressRules" (dict "ctx" $ "kafka" true "postgresql" false "abuse" false "extra" true)
*/}}
{{- define "leadpipe.egressRules" -}}
{{- $np := .ctx.Values.networkPolicy }}
# DNS
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  {{- with include "leadpipe.networkPolicyPeers" $np.dns }}
  to:
    {{- . | nindent 4 }}
  {{- end }}
{{- if .kafka }}
# Kafka brokers
- ports:
    {{- with include "leadpipe.kafkaPorts" .ctx | trim }}
    {{- . | nindent 4 }}
    {{- end }}
  {{- with include "leadpipe.networkPolicyPeers" $np.kafka }}
  to:
    {{- . | nindent 4 }}
  {{- end }}
{{- end }}
{{- if .postgresql }}
# PostgreSQL
- ports:
    {{- range $np.postgresql.ports }}
    - port: {{ int . }}
      protocol: TCP
    {{- end }}
  {{- with include "leadpipe.networkPolicyPeers" $np.postgresql }}
  to:
    {{- . | nindent 4 }}
  {{- end }}
{{- end }}
{{- if and .abuse (include "leadpipe.gatewayRedis" .ctx) }}
# Redis (shared rate limits)
- ports:
    {{- with include "leadpipe.redisPorts" .ctx | trim }}
    {{- . | nindent 4 }}
    {{- end }}
  {{- with include "leadpipe.networkPolicyPeers" $np.redis }}
  to:
    {{- . | nindent 4 }}
  {{- end }}
{{- end }}
{{- if and .abuse (include "leadpipe.gatewayCaptcha" .ctx) }}
# CAPTCHA verifier
- ports:
    {{- with include "leadpipe.captchaPorts" .ctx | trim }}
    {{- . | nindent 4 }}
    {{- end }}
  {{- with include "leadpipe.networkPolicyPeers" $np.captcha }}
  to:
    {{- . | nindent 4 }}
  {{- end }}
{{- end }}
{{- if and .extra $np.extraEgress }}
{{ toYaml $np.extraEgress }}
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
{{- with .Values.gateway }}
{{- $needed := add (int .preStopSleepSeconds) (int .drainSeconds) (int .shutdownTimeoutSeconds) 5 }}
{{- if lt (int .terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "gateway.terminationGracePeriodSeconds (%d) must cover gateway.preStopSleepSeconds (%d) + gateway.drainSeconds (%d) + gateway.shutdownTimeoutSeconds (%d) + 5s to flush the producer = %d" (int .terminationGracePeriodSeconds) (int .preStopSleepSeconds) (int .drainSeconds) (int .shutdownTimeoutSeconds) (int $needed)) }}
{{- end }}
{{- end }}
{{- include "leadpipe.validateStallTimeout" . }}
{{- include "leadpipe.validateKafka" . }}
{{- include "leadpipe.validateDatabase" . }}
{{- include "leadpipe.validateNetworkPolicy" . }}
{{- include "leadpipe.validateAbuse" . }}
{{- if and (not .Values.database.existingSecret) (not .Values.database.url) }}
{{- fail "database: set database.url or database.existingSecret" }}
{{- end }}
{{- if and .Values.gateway.ingress.enabled (not .Values.gateway.ingress.hosts) }}
{{- fail "gateway.ingress.hosts must list at least one host when gateway.ingress.enabled is true" }}
{{- end }}
{{- end }}


{{/*
The consumer never waits less than the Kafka session timeout before it calls
partitions stalled (a member that crashed must have expired first): a lower
consumer.config.stallTimeoutMs would silently not apply. The session timeout is
the binary's default unless consumer.extraEnv sets LEADPIPE_KAFKA_SESSION_TIMEOUT_MS.
*/}}
{{- define "leadpipe.validateStallTimeout" -}}
{{- $stall := .Values.consumer.config.stallTimeoutMs }}
{{- if not (kindIs "invalid" $stall) }}
{{- $session := 10000 }}
{{- range .Values.consumer.extraEnv }}
{{- if and (eq (toString .name) "LEADPIPE_KAFKA_SESSION_TIMEOUT_MS") .value }}
{{- $session = atoi (toString .value) }}
{{- end }}
{{- end }}
{{- if lt (int $stall) $session }}
{{- fail (printf "consumer.config.stallTimeoutMs (%d) must not be lower than the Kafka session timeout (%d ms, LEADPIPE_KAFKA_SESSION_TIMEOUT_MS): the consumer would wait for the session timeout anyway" (int $stall) $session) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Kafka security settings that belong together.
*/}}
{{- define "leadpipe.validateKafka" -}}
{{- $protocol := .Values.kafka.securityProtocol }}
{{- with .Values.kafka.sasl }}
{{- if include "leadpipe.kafkaSasl" $ }}
{{- if not .username }}
{{- fail (printf "kafka.sasl.username is required when kafka.securityProtocol is %s" $protocol) }}
{{- end }}
{{- if not .existingSecret }}
{{- fail (printf "kafka.sasl.existingSecret (a Secret holding the SASL password) is required when kafka.securityProtocol is %s" $protocol) }}
{{- end }}
{{- else if or .username .existingSecret }}
{{- fail (printf "kafka.sasl.username / kafka.sasl.existingSecret are set, but kafka.securityProtocol (%s) does not use SASL: use sasl_ssl or sasl_plaintext" $protocol) }}
{{- end }}
{{- end }}
{{- if and .Values.kafka.tls.ca.secretName .Values.kafka.tls.ca.configMapName }}
{{- fail "kafka.tls.ca: set secretName or configMapName, not both" }}
{{- end }}
{{- if and (not (include "leadpipe.kafkaTls" .)) (or (include "leadpipe.kafkaCa" .) (include "leadpipe.kafkaClientCert" .)) }}
{{- fail (printf "kafka.tls.ca / kafka.tls.clientCert are set, but kafka.securityProtocol (%s) does not use TLS: use ssl or sasl_ssl" $protocol) }}
{{- end }}
{{- /* The binaries' own pass-through policy (crates/platform/src/kafka/policy.rs; a test
there keeps this file equal to it): what they refuse at start, the
chart refuses here. Where a setting has a chart value, the message names the value. */}}
{{- $policy := .Files.Get "files/kafka-policy.json" | fromJson }}
{{- $chartValue := dict "LEADPIPE_KAFKA_BROKERS" "kafka.brokers" "LEADPIPE_KAFKA_SECURITY_PROTOCOL" "kafka.securityProtocol" "LEADPIPE_KAFKA_SASL_MECHANISM" "kafka.sasl.mechanism" "LEADPIPE_KAFKA_SASL_USERNAME" "kafka.sasl.username" "LEADPIPE_KAFKA_SASL_PASSWORD_FILE" "kafka.sasl.existingSecret" "LEADPIPE_KAFKA_SSL_CA_LOCATION" "kafka.tls.ca" "LEADPIPE_KAFKA_SSL_CERTIFICATE_LOCATION" "kafka.tls.clientCert" "LEADPIPE_KAFKA_SSL_KEY_LOCATION" "kafka.tls.clientCert" "LEADPIPE_KAFKA_SSL_KEY_PASSWORD_FILE" "kafka.tls.clientCert" "LEADPIPE_GROUP_ID" "kafka.consumerGroup" "LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS" "gateway.config.kafkaDeliveryTimeoutMs" }}
{{- range $key, $_ := .Values.kafka.properties }}
{{- if hasKey $policy.safety $key }}
{{- fail (printf "kafka.properties: %s is a safety setting the binaries refuse to take from LEADPIPE_KAFKA_PROPERTIES (%s)" $key (get $policy.safety $key)) }}
{{- end }}
{{- if hasKey $policy.dedicated $key }}
{{- $setting := get $policy.dedicated $key }}
{{- $where := ternary "" " (in gateway.extraEnv or consumer.extraEnv)" (hasKey $chartValue $setting) }}
{{- fail (printf "kafka.properties: %s has its own value, set %s instead%s" $key (get $chartValue $setting | default $setting) $where) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Database TLS: one place for sslmode and sslrootcert, a CA only where it is checked.
*/}}
{{- define "leadpipe.validateDatabase" -}}
{{- $modes := list "disable" "prefer" "require" "verify-ca" "verify-full" }}
{{- with .Values.database }}
{{- if and .ca.secretName .ca.configMapName }}
{{- fail "database.ca: set secretName or configMapName, not both" }}
{{- end }}
{{- if .existingSecret }}
{{- if .sslMode }}
{{- fail (printf "database.sslMode cannot be added to the URL in database.existingSecret (%s): write sslmode=%s into that URL" .existingSecret .sslMode) }}
{{- end }}
{{- else }}
{{- $urlMode := "" }}
{{- if regexMatch "[?&]sslmode=" .url }}
{{- $urlMode = regexReplaceAll "^.*[?&]sslmode=([^&#]*).*$" .url "${1}" }}
{{- if .sslMode }}
{{- fail "database.url already sets sslmode: set it there or in database.sslMode, not both" }}
{{- end }}
{{- if not (has $urlMode $modes) }}
{{- fail (printf "database.url: sslmode=%s is not one of %s" $urlMode (join ", " $modes)) }}
{{- end }}
{{- end }}
{{- if include "leadpipe.databaseCa" $ }}
{{- if regexMatch "[?&]sslrootcert=" .url }}
{{- fail "database.url already sets sslrootcert: remove it, database.ca adds it" }}
{{- end }}
{{- $mode := default $urlMode .sslMode }}
{{- if not (has $mode (list "verify-ca" "verify-full")) }}
{{- fail (printf "database.ca is only checked with sslmode verify-ca or verify-full (sslmode is %s): set database.sslMode" (default "not set" $mode)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Gateway abuse protection: what the gateway itself refuses at start, refused at
install instead (a gateway that cannot start would crash-loop the rollout).
*/}}
{{- define "leadpipe.validateAbuse" -}}
{{- with .Values.gateway.config }}
{{- if and .redis.url .redis.existingSecret }}
{{- fail "gateway.config.redis: set url or existingSecret, not both" }}
{{- end }}
{{- if regexMatch "^[a-zA-Z][-+.a-zA-Z0-9]*://[^/?#]*@" .redis.url }}
{{- fail "gateway.config.redis.url holds credentials, which would land in the gateway ConfigMap: put the whole URL in a Secret and set gateway.config.redis.existingSecret" }}
{{- end }}
{{- if and .hashSecret.existingSecret .hashSecret.value }}
{{- fail "gateway.config.hashSecret: set existingSecret or value, not both" }}
{{- end }}
{{- if and (include "leadpipe.gatewayRedis" $) (not (include "leadpipe.gatewayHashSecret" $)) }}
{{- fail "gateway.config.redis needs gateway.config.hashSecret (existingSecret or value), the same on every gateway: Redis keys are keyed hashes, never addresses or numbers (LEADPIPE_REDIS_URL needs LEADPIPE_HASH_SECRET_FILE)" }}
{{- end }}
{{- if and .captcha.verifyUrl (not .captcha.secret.existingSecret) }}
{{- fail "gateway.config.captcha.verifyUrl needs gateway.config.captcha.secret.existingSecret, a Secret holding the provider's secret key (LEADPIPE_CAPTCHA_VERIFY_URL needs LEADPIPE_CAPTCHA_SECRET_FILE)" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
NetworkPolicies that would cut the traffic the chart itself sets up.
*/}}
{{- define "leadpipe.validateNetworkPolicy" -}}
{{- with .Values.networkPolicy }}
{{- if .enabled }}
{{- if and $.Values.gateway.ingress.enabled (not (include "leadpipe.networkPolicyPeers" .ingressController)) }}
{{- fail "networkPolicy.ingressController selects nothing, so the gateways would refuse the ingress controller: set its namespaceSelector, podSelector or cidrs" }}
{{- end }}
{{- if and $.Values.serviceMonitor.enabled (not (include "leadpipe.networkPolicyPeers" .prometheus)) }}
{{- fail "networkPolicy.prometheus selects nothing, so Prometheus could not scrape the pods: set its namespaceSelector, podSelector or cidrs" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The analysts' replica URL with the statement timeout as libpq `options`.
*/}}
{{- define "leadpipe.analyticsUrl" -}}
{{- $url := .Values.analytics.replicaUrl -}}
{{- $options := printf "options=-c%%20statement_timeout%%3D%s" (.Values.analytics.statementTimeout | replace " " "") -}}
{{- printf "%s%s%s" $url (ternary "&" "?" (contains "?" $url)) $options -}}
{{- end }}
