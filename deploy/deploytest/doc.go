// Package deploytest checks the deployment files against the code they
// run: docker-compose.ha.yml with its configs under deploy/compose (NATS
// cluster, Redis Sentinel, nginx, the roles' --config), and the Helm chart
// in deploy/helm/tinman rendered by Helm with its default and HA values.
// Every flag, TINMAN_* variable and --config key they give a role must be
// one of that role's flags in the tinman built from this checkout. It has
// no code of its own; nothing imports it.
package deploytest
