// etcd for gitward's dev control plane, at the version Kubernetes pins (go.etcd.io/etcd/server/v3 in go.mod).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
