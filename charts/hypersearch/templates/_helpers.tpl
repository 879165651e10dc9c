{{/* Names and labels shared by every template. */}}

{{- define "hypersearch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hypersearch.fullname" -}}
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

{{- define "hypersearch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hypersearch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "hypersearch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
app.kubernetes.io/name: {{ include "hypersearch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hypersearch
{{- end }}

{{- define "hypersearch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hypersearch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Namespaces watched in namespace scope: the list, else the release namespace. */}}
{{- define "hypersearch.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- join "," .Values.watchNamespaces }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "hypersearch.leaseName" -}}
{{- default (include "hypersearch.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* The metrics Service's name: also the `job` label the ServiceMonitor gives its targets. */}}
{{- define "hypersearch.metricsService" -}}
{{- printf "%s-metrics" (include "hypersearch.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hypersearch.podMonitorName" -}}
{{- printf "%s-trainers" (include "hypersearch.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The `job` label of trainer targets: the Prometheus Operator uses <namespace>/<PodMonitor>. */}}
{{- define "hypersearch.trainerJob" -}}
{{- printf "%s/%s" .Release.Namespace (include "hypersearch.podMonitorName" .) }}
{{- end }}

{{/* The RBAC rules of the operator on searches, trials, pods, jobs and events. */}}
{{- define "hypersearch.rules" -}}
- apiGroups: [hypersearch.dev]
  resources: [hypersearches]
  verbs: [list, watch, patch]
# blockOwnerDeletion on children needs this where OwnerReferencesPermissionEnforcement is on.
- apiGroups: [hypersearch.dev]
  resources: [hypersearches/finalizers]
  verbs: [update]
- apiGroups: [hypersearch.dev]
  resources: [hypersearches/status, trials/status]
  verbs: [patch]
- apiGroups: [hypersearch.dev]
  resources: [trials]
  verbs: [get, list, create]
# Pods are watched (only the operator's, by label) for its pod index.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, create, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, list]
{{- with .Values.rbac.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}
