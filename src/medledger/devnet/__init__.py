"""Local development networks: loopback daemons for tests and demos."""
