//go:build tools

// Package tools pins the main packages that tests/k8s/build.sh compiles, so that
// `go mod tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
