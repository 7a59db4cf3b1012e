"""JupyterHub integration: the demo authenticator and the local platform's hub configuration."""
