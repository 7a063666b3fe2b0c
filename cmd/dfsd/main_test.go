package main

import (
	"os"
	"testing"

	"github.com/dfsproject/dfs/fs/fstest"
)

func TestMain(m *testing.M) { os.Exit(fstest.Main(m)) }
