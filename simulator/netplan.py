"""The simulated hospital's network beyond its workstations, and the block that tells
phiwatch about it.

Why a fixed plan: the capture, the HIS log and the configuration must agree on every
address, and the tests and the demo look them up here rather than in the capture. Each
hospital profile has its own :class:`Site`; the maternity hospital's (the default):

- Servers on ``10.10.1.0/24``: the HIS application servers ``10.10.1.10``-``.11``
  (``his_app``; workstations reach them over HTTPS, each workstation always the same
  one), the HIS database ``10.10.1.20`` (``his_db``; only the application servers talk to
  it, and it sends the nightly backup out), and the domain controller ``10.10.1.2``, the
  internal DNS resolver and time server (``infra``).
- Workstations ``WS-<TAG>-<nn>`` at ``10.20.<subnet>.<10+n>`` (``san-a`` → ``WS-SAN-A-03``
  at ``10.20.21.13``), VPN sessions ``VPN-<nn>`` at ``10.250.0.<10+n>``.
- The internet edge has no proxy: workstations open connections to outside addresses
  themselves, after asking the resolver for the name. :data:`SITES` are the names staff
  use; :func:`known` are the outside services the hospital declares (cloud backup, time
  servers, operating-system updates, the social-insurance portal), which the shipped
  rules leave alone.

:func:`network_block` is the ``network:`` section for these; ``net/network.yaml`` holds it
as a complete configuration file (``phiwatch replay --config net/network.yaml …``) whose
``network`` key can also be pasted into a larger one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.departments import MAX_WORKSTATIONS, Workstation


@dataclass(frozen=True)
class Site:
    """One hospital's own addresses, servers and outside services.

    Workstation ``n`` (1-based) of a department is ``host_format`` (with the
    department's ``tag``) at ``<workstations>.<subnet>.<10+n>``; remote (VPN) session ``n``
    is ``VPN-<nn>`` at ``<vpn>.<10+n>``.
    """

    workstations: str  # the first two octets: "10.20"
    workstations_cidr: str
    vpn: str  # the first three octets: "10.250.0"
    vpn_cidr: str
    servers_cidr: str
    resolver: str
    his_app: tuple[str, ...]
    his_db: str
    zone: str
    upstream_dns: tuple[str, str]
    backup: tuple[str, str]  # the cloud backup service's name and address
    backup_net: str
    host_format: str = "WS-{tag}-{n:02d}"

    @property
    def networks(self) -> tuple[tuple[str, str], ...]:
        """``networks.csv``: the hospital's own ranges (CIDR, name)."""
        return ((self.workstations_cidr, "workstations"), (self.vpn_cidr, "vpn"),
                (self.servers_cidr, "servers"))

    @property
    def inside_prefixes(self) -> tuple[str, ...]:
        return (self.servers_cidr.rsplit(".", 2)[0] + ".", self.workstations + ".",
                self.vpn + ".")

    def inside(self, ip: str) -> bool:
        """Whether ``ip`` belongs to the hospital (servers, workstations, VPN)."""
        return ip.startswith(self.inside_prefixes)

    @property
    def internal_names(self) -> dict[str, str]:
        """The names the resolver answers itself."""
        return {f"his.{self.zone}": self.his_app[0], f"his2.{self.zone}": self.his_app[-1],
                f"dc01.{self.zone}": self.resolver}

    def workstation(self, tag: str, subnet: int, department: str, n: int) -> Workstation:
        if not 1 <= n <= MAX_WORKSTATIONS:
            raise ValueError(f"workstation number {n} outside 1..{MAX_WORKSTATIONS}")
        return Workstation(self.host_format.format(tag=tag, n=n),
                           f"{self.workstations}.{subnet}.{10 + n}", department)

    def vpn_endpoint(self, n: int) -> Workstation:
        """Remote-access address ``n`` (1-based) in the VPN pool."""
        if not 1 <= n <= MAX_WORKSTATIONS:
            raise ValueError(f"VPN address number {n} outside 1..{MAX_WORKSTATIONS}")
        return Workstation(f"VPN-{n:02d}", f"{self.vpn}.{10 + n}", "vpn")


#: The maternity hospital's (the default profile's) plan, spelled out for the tests.
SERVER_NETWORK = ("10.10.1.0/24", "servers")
RESOLVER = "10.10.1.2"
HIS_APP = ("10.10.1.10", "10.10.1.11")
HIS_DB = "10.10.1.20"
INSIDE_PREFIXES = ("10.10.", "10.20.", "10.250.0.")
#: The hospital's internal DNS zone (the resolver answers it itself).
ZONE = "bv.local"
#: The resolver's forwarders (the ISP's resolvers).
UPSTREAM_DNS = ("203.113.131.1", "203.113.131.2")
BACKUP = ("backup.vdc-cloud.com.vn", "103.28.36.42")
BACKUP_NET = "103.28.36.0/24"
MATERNITY_SITE = Site(
    workstations="10.20", workstations_cidr="10.20.0.0/16", vpn="10.250.0",
    vpn_cidr="10.250.0.0/24", servers_cidr=SERVER_NETWORK[0], resolver=RESOLVER,
    his_app=HIS_APP, his_db=HIS_DB, zone=ZONE, upstream_dns=UPSTREAM_DNS, backup=BACKUP,
    backup_net=BACKUP_NET,
)
#: Outside time servers the resolver polls (declared: ``time``).
NTP_UPSTREAM = ("216.239.35.0", "216.239.35.4", "162.159.200.1", "162.159.200.123")
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


def known(site: Site) -> dict[str, list[str]]:
    """The declared outside services: name → addresses, networks or domains."""
    return {
        "cloud_backup": [site.backup_net, site.backup[0].split(".", 1)[1]],
        "time": [*NTP_UPSTREAM, "time.google.com", "time.cloudflare.com"],
        "os_updates": ["windowsupdate.com", "update.microsoft.com", UPDATES[1] + "/32"],
        "bhxh": ["baohiemxahoi.gov.vn", "14.225.0.0/24"],
    }


def network_block(site: Site) -> dict[str, Any]:
    """The ``network:`` section (:class:`sensors.flows.NetworkConfig`) for ``site``, whose
    own ranges are those of ``networks.csv``."""
    return {
        "internal": [cidr for cidr, _ in site.networks],
        "server_groups": {"his_app": list(site.his_app), "his_db": [site.his_db],
                          "infra": [site.resolver]},
        "known_external": known(site),
    }


def network_yaml(site: Site) -> str:
    """``net/network.yaml``: a configuration file holding just the network section."""
    import yaml

    head = ("# The simulated hospital's network model for phiwatch (written by `phiwatch\n"
            "# simulate`). A complete configuration by itself; or paste the `network` key\n"
            "# into yours. HIS servers are the groups starting with `his`; the known\n"
            "# outside services are declared, so their traffic raises no alert.\n")
    body = yaml.safe_dump({"network": network_block(site)}, sort_keys=False,
                          allow_unicode=True)
    return head + body
