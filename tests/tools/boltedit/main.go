// boltedit: copies an InfluxDB bbolt file while applying one edit, to make
// test inputs that real servers would not write on their own.
//
// Usage: boltedit EDIT IN OUT
//
// Edits:
//
//	deactivate-operator   every authorization in authorizationsv1 that holds
//	                      read:authorizations without an orgID (the operator
//	                      permission set starts with it) gets "status":"inactive".
//	                      Only the status value changes; the rest of the JSON
//	                      stays byte for byte as it was.
//
// IN is never modified. The copy is made with bbolt itself (read IN, write
// OUT with go.etcd.io/bbolt 1.3.x, the library InfluxDB 2.x uses), so OUT is
// a valid bbolt file that passes tx.Check(). Exit status 1 if the edit found
// nothing to change.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
	"tsvault/tools/lib/boltfile"
)

type permission struct {
	Action   string `json:"action"`
	Resource struct {
		Type  string  `json:"type"`
		OrgID *string `json:"orgID"`
		ID    *string `json:"id"`
	} `json:"resource"`
}

type authorization struct {
	Status      string       `json:"status"`
	Permissions []permission `json:"permissions"`
}

func isOperator(a *authorization) bool {
	for _, p := range a.Permissions {
		if p.Action == "read" && p.Resource.Type == "authorizations" &&
			p.Resource.OrgID == nil && p.Resource.ID == nil {
			return true
		}
	}
	return false
}

func deactivateOperator(tx *bolt.Tx) (int, error) {
	b := tx.Bucket([]byte("authorizationsv1"))
	if b == nil {
		return 0, fmt.Errorf("no authorizationsv1 bucket")
	}
	type edit struct{ k, v []byte }
	var edits []edit
	err := b.ForEach(func(k, v []byte) error {
		var a authorization
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("authorization %s: %v", k, err)
		}
		if !isOperator(&a) || a.Status == "inactive" {
			return nil
		}
		nv := bytes.Replace(v, []byte(`"status":"active"`), []byte(`"status":"inactive"`), 1)
		if bytes.Equal(nv, v) {
			return fmt.Errorf("authorization %s: no \"status\":\"active\" to replace", k)
		}
		edits = append(edits, edit{append([]byte{}, k...), nv})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, e := range edits {
		if err := b.Put(e.k, e.v); err != nil {
			return 0, err
		}
	}
	return len(edits), nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: boltedit deactivate-operator IN OUT")
		os.Exit(2)
	}
	edit, in, out := os.Args[1], os.Args[2], os.Args[3]
	if edit != "deactivate-operator" {
		fmt.Fprintf(os.Stderr, "boltedit: unknown edit %q\n", edit)
		os.Exit(2)
	}
	if err := boltfile.Copy(in, out); err != nil {
		fmt.Fprintf(os.Stderr, "boltedit: copy: %v\n", err)
		os.Exit(1)
	}
	db, err := bolt.Open(out, 0600, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "boltedit: open %s: %v\n", out, err)
		os.Exit(1)
	}
	n := 0
	err = db.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = deactivateOperator(tx)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "boltedit: %s: %v\n", edit, err)
		os.Exit(1)
	}
	if n == 0 {
		fmt.Fprintf(os.Stderr, "boltedit: %s: nothing to change\n", edit)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "boltedit: %s: %d authorization(s) changed\n", edit, n)
}
