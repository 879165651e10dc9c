// Command etcd is the etcd server built from the pinned go.etcd.io/etcd/server/v3 module.
// The upstream main package lives in a module with replace directives, so it cannot be
// built from the module proxy directly; etcdmain.Main is the same entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
