"""The simulated hospital's network beyond its workstations, and the block that tells
phiwatch about it.

Why a fixed plan: the capture, the HIS log and the configuration must agree on every
address, and the tests and the demo look them up here rather than in the capture.

- Servers on ``10.10.1.0/24``: the HIS application servers ``10.10.1.10``-``.11``
  (``his_app``; workstations reach them over HTTPS, each workstation always the same
  one), the HIS database ``10.10.1.20`` (``his_db``; only the application servers talk to
  it, and it sends the nightly backup out), and the domain controller ``10.10.1.2``, the
  internal DNS resolver and time server (``infra``).
- Workstations and VPN addresses as in :mod:`simulator.departments`.
- The internet edge has no proxy: workstations open connections to outside addresses
  themselves, after asking the resolver for the name. :data:`SITES` are the names staff
  use; :data:`KNOWN` are the outside services the hospital declares (cloud backup, time
  servers, operating-system updates, the social-insurance portal), which the shipped
  rules leave alone.

:func:`network_block` is the ``network:`` section for these; ``net/network.yaml`` holds it
as a complete configuration file (``phiwatch replay --config net/network.yaml …``) whose
``network`` key can also be pasted into a larger one.
"""

from __future__ import annotations

from typing import Any

SERVER_NETWORK = ("10.10.1.0/24", "servers")
RESOLVER = "10.10.1.2"
HIS_APP = ("10.10.1.10", "10.10.1.11")
HIS_DB = "10.10.1.20"
INSIDE_PREFIXES = ("10.10.", "10.20.", "10.250.0.")
#: The hospital's internal DNS zone (the resolver answers it itself).
ZONE = "bv.local"
INTERNAL_NAMES = {f"his.{ZONE}": HIS_APP[0], f"his2.{ZONE}": HIS_APP[1],
                  f"dc01.{ZONE}": RESOLVER}
#: The resolver's forwarders (the ISP's resolvers).
UPSTREAM_DNS = ("203.113.131.1", "203.113.131.2")
#: Outside time servers the resolver polls (declared: ``time``).
NTP_UPSTREAM = ("216.239.35.0", "216.239.35.4", "162.159.200.1", "162.159.200.123")
BACKUP = ("backup.vdc-cloud.com.vn", "103.28.36.42")
BACKUP_NET = "103.28.36.0/24"
UPDATES = ("download.windowsupdate.com", "8.247.208.14")
INSURANCE = ("gdbhyt.baohiemxahoi.gov.vn", "14.225.0.137")

#: Names staff browse: (name, address, weight, kind). ``mail`` sends attachments now
#: and then, ``chat`` sends messages (Zalo is on the shipped file-sharing list: small
#: uploads must stay below its 5 MB an hour), ``web`` mostly downloads.
SITES: tuple[tuple[str, str, int, str], ...] = (
    ("www.google.com", "142.250.66.36", 12, "web"),
    ("www.gstatic.com", "142.250.66.67", 6, "web"),
    ("fonts.googleapis.com", "142.250.66.74", 3, "web"),
    ("mail.google.com", "142.250.66.37", 6, "mail"),
    ("outlook.office365.com", "52.98.151.66", 4, "mail"),
    ("login.microsoftonline.com", "20.190.144.161", 2, "web"),
    ("vnexpress.net", "111.65.250.2", 6, "web"),
    ("tuoitre.vn", "123.30.51.10", 4, "web"),
    ("thanhnien.vn", "103.21.148.30", 3, "web"),
    ("dantri.com.vn", "42.113.206.26", 3, "web"),
    ("thuvienphapluat.vn", "103.166.182.19", 2, "web"),
    ("moh.gov.vn", "103.9.200.11", 2, "web"),
    ("kcb.vn", "103.9.200.56", 1, "web"),
    ("pubmed.ncbi.nlm.nih.gov", "130.14.29.110", 2, "web"),
    ("www.uptodate.com", "199.232.38.133", 2, "web"),
    ("chat.zalo.me", "49.213.78.21", 5, "chat"),
    ("www.facebook.com", "157.240.199.35", 2, "web"),
)
#: The declared outside services: name → addresses, networks or domains.
KNOWN: dict[str, list[str]] = {
    "cloud_backup": [BACKUP_NET, "vdc-cloud.com.vn"],
    "time": [*NTP_UPSTREAM, "time.google.com", "time.cloudflare.com"],
    "os_updates": ["windowsupdate.com", "update.microsoft.com", UPDATES[1] + "/32"],
    "bhxh": ["baohiemxahoi.gov.vn", "14.225.0.0/24"],
}


def inside(ip: str) -> bool:
    """Whether ``ip`` belongs to the hospital (servers, workstations, VPN)."""
    return ip.startswith(INSIDE_PREFIXES)


def network_block(networks: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The ``network:`` section (:class:`sensors.flows.NetworkConfig`) for the hospital
    whose own ranges are ``networks`` (``networks.csv``)."""
    return {
        "internal": [cidr for cidr, _ in networks],
        "server_groups": {"his_app": list(HIS_APP), "his_db": [HIS_DB], "infra": [RESOLVER]},
        "known_external": {k: list(v) for k, v in KNOWN.items()},
    }


def network_yaml(networks: tuple[tuple[str, str], ...]) -> str:
    """``net/network.yaml``: a configuration file holding just the network section."""
    import yaml

    head = ("# The simulated hospital's network model for phiwatch (written by `phiwatch\n"
            "# simulate`). A complete configuration by itself; or paste the `network` key\n"
            "# into yours. HIS servers are the groups starting with `his`; the known\n"
            "# outside services are declared, so their traffic raises no alert.\n")
    body = yaml.safe_dump({"network": network_block(networks)}, sort_keys=False,
                          allow_unicode=True)
    return head + body
