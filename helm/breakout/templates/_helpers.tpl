{{/* Names and labels. */}}
{{- define "breakout.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "breakout.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "breakout.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "breakout.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "breakout.selector" -}}
app.kubernetes.io/name: {{ include "breakout.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "breakout.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "breakout.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "breakout.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Control plane names. */}}
{{- define "breakout.control" -}}{{ include "breakout.fullname" . }}-control{{- end -}}
{{- define "breakout.peers" -}}{{ include "breakout.fullname" . }}-control-peers{{- end -}}

{{/* Every control-plane pod's API address under the headless Service, comma-separated. */}}
{{- define "breakout.bootstrapPeers" -}}
{{- $peers := list -}}
{{- range $i := until (int .Values.controlPlane.replicas) -}}
{{- $peers = append $peers (printf "%s-%d.%s.%s.svc.%s:%d" (include "breakout.control" $) $i (include "breakout.peers" $) $.Release.Namespace $.Values.clusterDomain (int $.Values.controlPlane.ports.api)) -}}
{{- end -}}
{{- join "," $peers -}}
{{- end -}}

{{/* Secrets. */}}
{{- define "breakout.adminTokenSecret" -}}
{{- default (printf "%s-admin-token" (include "breakout.fullname" .)) .Values.adminToken.existingSecret -}}
{{- end -}}
{{- define "breakout.edgeTokenSecret" -}}
{{- default (printf "%s-edge-token" (include "breakout.fullname" .)) .Values.edgeToken.existingSecret -}}
{{- end -}}
{{- define "breakout.tlsSecret" -}}
{{- default (printf "%s-edge-tls" (include "breakout.fullname" .)) .Values.controlPlane.tls.secretName -}}
{{- end -}}

{{/* Names the edge endpoint's certificate is valid for. */}}
{{- define "breakout.tlsNames" -}}
{{- $svc := printf "%s-edge" (include "breakout.control" .) -}}
{{- $names := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.%s" $svc .Release.Namespace .Values.clusterDomain) -}}
{{- concat $names .Values.controlPlane.tls.dnsNames | toJson -}}
{{- end -}}

{{/* Where edges connect. */}}
{{- define "breakout.controlPlaneAddress" -}}
{{- if .Values.edges.controlPlane.address -}}
{{- .Values.edges.controlPlane.address -}}
{{- else -}}
{{- printf "%s-edge.%s.svc.%s:%d" (include "breakout.control" .) .Release.Namespace .Values.clusterDomain (int .Values.controlPlane.ports.edge) -}}
{{- end -}}
{{- end -}}

{{/* Pod-level security and scheduling shared by both components. */}}
{{- define "breakout.podSecurity" -}}
serviceAccountName: {{ include "breakout.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* One edge.toml value: JSON strings, numbers, booleans and arrays are TOML too. */}}
{{- define "breakout.tomlValue" -}}
{{- toJson . -}}
{{- end -}}

{{/*
A component's extraEnv, refused when it names a variable twice or one the chart sets itself:
Kubernetes keeps the last of two entries, so an extraEnv copy would silently override a
chart value (controlPlane.raft.* for instance) and the value would no longer say what runs.
Takes (dict "path" "controlPlane.extraEnv" "env" $cp.extraEnv "chart" (list "POD_NAME" ...)).
*/}}
{{- define "breakout.extraEnv" -}}
{{- $seen := dict -}}
{{- range .chart -}}{{- $_ := set $seen . "the chart" -}}{{- end -}}
{{- range $i, $v := .env -}}
{{- if hasKey $seen $v.name -}}
{{- fail (printf "%s[%d] sets %s, which %s already sets; set it once (through the chart's own value where there is one)" $.path $i $v.name (get $seen $v.name)) -}}
{{- end -}}
{{- $_ := set $seen $v.name (printf "%s[%d]" $.path $i) -}}
{{- end -}}
{{- with .env -}}
{{ toYaml . }}
{{- end -}}
{{- end -}}
