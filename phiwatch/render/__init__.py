"""Text rendering, in one place: how alerts, incidents, rule reports and store reports
read on a terminal and in pipes. Every function returns text or a rich renderable built
from ``Text`` (never markup); ``phiwatch.text`` makes what comes from logs inert."""
