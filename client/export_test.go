package client

// LoginStats exposes to tests how many tokens a cluster took and how many requests were sent
// again after a refused token.
func LoginStats(c *Cluster) (logins, retried int64) {
	return c.auth.logins.Load(), c.auth.retried.Load()
}
