"""Reads, never writes, and never imports a service: ``people`` (who leads what), ``cells`` (how a released
value is shown, who sees which teams), ``flags`` (flags behind the gate, the inbox) and ``reports`` (the
leader home and a team's page)."""
