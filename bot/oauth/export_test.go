package oauth

import "time"

// SignStateForTest forges a state with any key, for refusal tests.
func SignStateForTest(key []byte, tenantID string, expires time.Time) string {
	s, err := signState(key, tenantID, expires)
	if err != nil {
		panic(err)
	}
	return s
}
