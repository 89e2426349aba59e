// Package examples holds the example tenant (Acme Analytics) and its data:
// the tenant file, an inventory snapshot of two applications and findings
// from an outside scanner. They are embedded so that `accessbot playground`
// works from any directory.
package examples

import "embed"

// FS holds tenant.yaml, employees.csv, findings.json and inventory/*.csv.
//
//go:embed tenant.yaml employees.csv findings.json inventory/*.csv
var FS embed.FS

// TenantFile is the name of the example tenant file in FS.
const TenantFile = "tenant.yaml"
