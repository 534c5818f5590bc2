"""What runs in the fork server process: it imports a trial's modules and loads its data
once, then forks one trial process per start or resume (server)."""
