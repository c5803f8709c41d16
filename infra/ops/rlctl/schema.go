package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

func schemaShow(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pool := fs.String("pool", "", "pool id (the API's tableId)")
	s, err := parse(ctx, fs, args, out, getenv, "pool")
	if err != nil {
		return err
	}
	svc, err := app.SchemaAdmin(s.cfg, s.env())
	if err != nil {
		return err
	}
	v, err := svc.Show(ctx, *pool)
	if err != nil {
		return err
	}
	return s.printSchema(v)
}

func schemaSet(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pool := fs.String("pool", "", "pool id (the API's tableId)")
	keys := fs.String("keys", "", "key=type pairs, comma-separated (types: string, number, boolean, string[])")
	s, err := parse(ctx, fs, args, out, getenv, "pool", "keys")
	if err != nil {
		return err
	}
	set := lead.Schema{}
	for _, pair := range strings.Split(*keys, ",") {
		k, t, ok := strings.Cut(pair, "=")
		if !ok {
			return usageError{fmt.Sprintf("%s: --keys wants key=type pairs, got %q", name, pair)}
		}
		set[k] = lead.FieldType(t)
	}
	return s.patchSchema(ctx, lead.SchemaPatch{PoolID: *pool, Set: set})
}

func schemaUnlock(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pool := fs.String("pool", "", "pool id (the API's tableId)")
	keys := fs.String("keys", "", "keys to unlock, comma-separated")
	s, err := parse(ctx, fs, args, out, getenv, "pool", "keys")
	if err != nil {
		return err
	}
	return s.patchSchema(ctx, lead.SchemaPatch{PoolID: *pool, Unlock: strings.Split(*keys, ",")})
}

func (s *session) patchSchema(ctx context.Context, p lead.SchemaPatch) error {
	svc, err := app.SchemaAdmin(s.cfg, s.env())
	if err != nil {
		return err
	}
	v, err := svc.Patch(ctx, p)
	if err != nil {
		return err
	}
	return s.printSchema(v)
}

func (s *session) printSchema(v *lead.SchemaView) error {
	rows := [][]string{{"KEY", "TYPE"}}
	for _, k := range slices.Sorted(maps.Keys(v.Schema)) {
		rows = append(rows, []string{k, string(v.Schema[k])})
	}
	return s.print(wire.ViewSchema(v), rows)
}
