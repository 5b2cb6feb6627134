// main.go - test-only renderer for the tspool Helm chart, for machines without a helm binary.
// SPDX-License-Identifier: MIT
//
// Helm's template engine is Go's text/template with the sprig function library plus a few
// built-ins. This program rebuilds that engine from the same libraries (Debian packages,
// GOPATH mode): values are read with sigs.k8s.io/yaml (JSON number semantics, as Helm),
// coalesced with -f files (null deletes a key, as Helm), validated against values.schema.json
// with gojsonschema (the validator Helm 3 used), and every template is rendered with
// include/tpl/required/toYaml/fromYaml/toJson/fromJson/lookup, .Values, .Release, .Chart,
// .Capabilities, .Files and .Template. Output follows `helm template`: one document per template,
// each preceded by "---" and "# Source: <chart>/templates/<file>", sorted in Helm's install order.
//
// Usage: tspool-helm-render [-f values.yaml]... [--name N] [--namespace NS] [--strict]
//
//	[--api-versions G/V]... [--notes] [--values-json] [--lint] CHARTDIR
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"github.com/xeipuuv/gojsonschema"
	"sigs.k8s.io/yaml"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// versionSet mirrors chartutil.VersionSet: .Capabilities.APIVersions.Has "apps/v1".
type versionSet []string

func (v versionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type kubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k kubeVersion) String() string     { return k.Version }
func (k kubeVersion) GitVersion() string { return k.Version }

type capabilities struct {
	KubeVersion kubeVersion
	APIVersions versionSet
}

// files mirrors chart.Files: the chart's non-template files, for .Files.Get and friends.
type files map[string][]byte

func (f files) GetBytes(name string) []byte { return f[name] }
func (f files) Get(name string) string      { return string(f[name]) }

func (f files) Glob(pattern string) files {
	out := files{}
	for name, data := range f {
		ok, _ := path.Match(pattern, name)
		if ok {
			out[name] = data
		}
	}
	return out
}

func (f files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func (f files) AsConfig() string {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = string(data)
	}
	return toYAML(m)
}

// defaultAPIVersions is the built-in set `helm template` assumes without a cluster (abridged to
// what a chart like this one asks about).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
}

// installOrder is Helm's releaseutil.InstallOrder; unknown kinds go last.
var installOrder = []string{
	"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
	"RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
	"ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
	"IngressClass", "Ingress", "APIService",
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return m, nil
}

// coalesce merges src over dst as Helm does for user values: maps merge recursively, a null
// in src deletes the key, anything else replaces.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, sv := range src {
		if sv == nil {
			delete(dst, k)
			continue
		}
		sm, sIsMap := sv.(map[string]interface{})
		dm, dIsMap := dst[k].(map[string]interface{})
		if sIsMap && dIsMap {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = sv
		}
	}
	return dst
}

// chartMetadata maps Chart.yaml onto the field names templates see as .Chart.*.
func chartMetadata(raw map[string]interface{}) map[string]interface{} {
	names := map[string]string{
		"apiVersion": "APIVersion", "name": "Name", "version": "Version", "kubeVersion": "KubeVersion",
		"description": "Description", "type": "Type", "keywords": "Keywords", "home": "Home",
		"sources": "Sources", "dependencies": "Dependencies", "maintainers": "Maintainers",
		"icon": "Icon", "appVersion": "AppVersion", "deprecated": "Deprecated",
		"annotations": "Annotations",
	}
	md := map[string]interface{}{}
	for k, v := range raw {
		if n, ok := names[k]; ok {
			md[n] = v
		}
	}
	for _, n := range names {
		if _, ok := md[n]; !ok {
			md[n] = ""
		}
	}
	return md
}

// ignored applies the simple .helmignore forms used here: "dir/" and globs on the relative
// path or the base name.
func ignored(patterns []string, rel string, isDir bool) bool {
	for _, p := range patterns {
		if strings.HasSuffix(p, "/") {
			if isDir && (rel == strings.TrimSuffix(p, "/") || path.Base(rel) == strings.TrimSuffix(p, "/")) {
				return true
			}
			continue
		}
		m1, _ := path.Match(p, rel)
		m2, _ := path.Match(p, path.Base(rel))
		if m1 || m2 {
			return true
		}
	}
	return false
}

type chart struct {
	name      string
	meta      map[string]interface{}
	values    map[string]interface{}
	schema    []byte
	templates map[string]string // "<chart>/templates/x.yaml" -> text
	files     files
}

func loadChart(dir string) (*chart, error) {
	c := &chart{templates: map[string]string{}, files: files{}}
	raw, err := readYAMLMap(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	c.meta = chartMetadata(raw)
	c.name, _ = raw["name"].(string)
	if c.values, err = readYAMLMap(filepath.Join(dir, "values.yaml")); err != nil {
		return nil, err
	}
	c.schema, _ = os.ReadFile(filepath.Join(dir, "values.schema.json"))
	var patterns []string
	if data, err := os.ReadFile(filepath.Join(dir, ".helmignore")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				patterns = append(patterns, line)
			}
		}
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignored(patterns, rel, info.IsDir()) {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if info.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			c.templates[c.name+"/"+rel] = string(data)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json":
		case strings.HasPrefix(rel, "charts/"):
			return errors.New("subcharts are not supported by this renderer")
		default:
			c.files[rel] = data
		}
		return nil
	})
	return c, err
}

func validateSchema(schema []byte, values map[string]interface{}) error {
	if len(schema) == 0 {
		return nil
	}
	doc, err := json.Marshal(values)
	if err != nil {
		return err
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if res.Valid() {
		return nil
	}
	var b strings.Builder
	b.WriteString("values don't meet the specifications of the schema(s) in the following chart(s):\n")
	for _, e := range res.Errors() {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	return errors.New(strings.TrimSuffix(b.String(), "\n"))
}

type renderer struct {
	root   *template.Template
	strict bool
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["toJson"] = toJSON
	f["fromJson"] = fromJSON
	f["fromYamlArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			return []interface{}{err.Error()}
		}
		return a
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return []interface{}{err.Error()}
		}
		return a
	}
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	depth := 0
	f["include"] = func(name string, data interface{}) (string, error) {
		depth++
		defer func() { depth-- }()
		if depth > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		var buf bytes.Buffer
		err := r.root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := r.root.Clone()
		if err != nil {
			return "", err
		}
		t, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return f
}

type document struct {
	source string
	kind   string
	body   string
}

func kindRank(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

var kindRe = regexp.MustCompile(`(?m)^kind:\s*(\S+)`)
var hookRe = regexp.MustCompile(`(?m)^\s+"?helm\.sh/hook"?:`)

func run() error {
	var valueFiles, apiVersions listFlag
	fs := flag.NewFlagSet("tspool-helm-render", flag.ContinueOnError)
	fs.Var(&valueFiles, "f", "values file (repeatable, later wins)")
	fs.Var(&apiVersions, "api-versions", "extra API version for .Capabilities.APIVersions (repeatable)")
	name := fs.String("name", "tspool", "release name")
	namespace := fs.String("namespace", "default", "release namespace")
	kubeVer := fs.String("kube-version", "v1.29.0", "Kubernetes version for .Capabilities")
	strict := fs.Bool("strict", false, "fail on a missing value key (helm lint --strict)")
	notes := fs.Bool("notes", false, "print the rendered NOTES.txt instead of the manifests")
	valuesJSON := fs.Bool("values-json", false, "print the coalesced values as JSON and stop")
	lint := fs.Bool("lint", false, "also check Chart.yaml and every rendered document's shape")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: tspool-helm-render [flags] CHARTDIR")
	}
	dir := fs.Arg(0)
	c, err := loadChart(dir)
	if err != nil {
		return err
	}
	if *lint {
		if err := lintChart(c, filepath.Base(filepath.Clean(dir))); err != nil {
			return err
		}
	}
	values := c.values
	for _, vf := range valueFiles {
		user, err := readYAMLMap(vf)
		if err != nil {
			return err
		}
		values = coalesce(values, user)
	}
	if *valuesJSON {
		fmt.Println(toJSON(values))
		return nil
	}
	if err := validateSchema(c.schema, values); err != nil {
		return err
	}

	kv, err := semver.NewVersion(*kubeVer)
	if err != nil {
		return fmt.Errorf("--kube-version: %v", err)
	}
	// Helm refuses a chart whose kubeVersion constraint the target cluster does not meet.
	if want, _ := c.meta["KubeVersion"].(string); want != "" {
		constraint, err := semver.NewConstraint(want)
		if err != nil {
			return fmt.Errorf("Chart.yaml: kubeVersion %q: %v", want, err)
		}
		if !constraint.Check(kv) {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes v%s", want, kv.String())
		}
	}
	caps := capabilities{
		KubeVersion: kubeVersion{Version: "v" + kv.String(), Major: fmt.Sprint(kv.Major()), Minor: fmt.Sprint(kv.Minor())},
		APIVersions: append(versionSet(defaultAPIVersions), apiVersions...),
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": *name, "Namespace": *namespace, "Service": "Helm", "Revision": 1,
			"IsInstall": true, "IsUpgrade": false,
		},
		"Chart":        c.meta,
		"Capabilities": caps,
		"Files":        c.files,
	}

	r := &renderer{strict: *strict}
	r.root = template.New("gotpl")
	if *strict {
		r.root.Option("missingkey=error")
	} else {
		r.root.Option("missingkey=zero")
	}
	r.root.Funcs(r.funcs())
	names := make([]string, 0, len(c.templates))
	for n := range c.templates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := r.root.New(n).Parse(c.templates[n]); err != nil {
			return err
		}
	}

	var docs []document
	var hooks []document
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") {
			continue
		}
		isNotes := strings.HasSuffix(n, "/templates/NOTES.txt")
		if isNotes != *notes {
			continue
		}
		vals := map[string]interface{}{}
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": n, "BasePath": c.name + "/templates"}
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, n, vals); err != nil {
			return err
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if isNotes {
			fmt.Print(out)
			continue
		}
		// A template may hold several documents; Helm splits them and sorts each.
		for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
			if strings.TrimSpace(part) == "" {
				continue
			}
			d := document{source: n, body: strings.Trim(part, "\n")}
			if m := kindRe.FindStringSubmatch(part); m != nil {
				d.kind = m[1]
			}
			if hookRe.MatchString(part) {
				hooks = append(hooks, d)
			} else {
				docs = append(docs, d)
			}
		}
	}
	if *notes {
		return nil
	}
	sort.SliceStable(docs, func(i, j int) bool { return kindRank(docs[i].kind) < kindRank(docs[j].kind) })
	for _, d := range append(docs, hooks...) {
		fmt.Printf("---\n# Source: %s\n%s\n", d.source, d.body)
		if *lint {
			if err := lintDocument(d); err != nil {
				return err
			}
		}
	}
	return nil
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// lintChart checks Chart.yaml as `helm lint` does.
func lintChart(c *chart, dirName string) error {
	if c.meta["APIVersion"] != "v2" {
		return errors.New("Chart.yaml: apiVersion must be v2")
	}
	if c.name != dirName {
		return fmt.Errorf("Chart.yaml: name %q must match the directory name %q", c.name, dirName)
	}
	ver, _ := c.meta["Version"].(string)
	if _, err := semver.StrictNewVersion(ver); err != nil {
		return fmt.Errorf("Chart.yaml: version %q is not SemVer 2: %v", ver, err)
	}
	if t, _ := c.meta["Type"].(string); t != "application" {
		return fmt.Errorf("Chart.yaml: type %q must be application", t)
	}
	if _, ok := c.meta["AppVersion"].(string); !ok {
		return errors.New("Chart.yaml: appVersion must be a quoted string")
	}
	if _, ok := c.templates[c.name+"/templates/NOTES.txt"]; !ok {
		return errors.New("templates/NOTES.txt is missing")
	}
	return nil
}

// lintDocument checks that a rendered document is one YAML mapping with apiVersion, kind and
// a valid metadata.name, as `helm lint` does before it checks kinds.
func lintDocument(d document) error {
	var obj map[string]interface{}
	if err := yaml.UnmarshalStrict([]byte(d.body), &obj); err != nil {
		return fmt.Errorf("%s: unable to parse YAML: %v", d.source, err)
	}
	if obj["apiVersion"] == nil || obj["kind"] == nil {
		return fmt.Errorf("%s: object has no apiVersion or kind", d.source)
	}
	md, _ := obj["metadata"].(map[string]interface{})
	nm, _ := md["name"].(string)
	if len(nm) == 0 || len(nm) > 253 || !dns1123.MatchString(nm) {
		return fmt.Errorf("%s: metadata.name %q is not a valid DNS-1123 subdomain", d.source, nm)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
