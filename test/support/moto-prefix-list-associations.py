"""Adds EC2 GetManagedPrefixListAssociations to moto (5.2 does not implement it).

AWS answers it with the resources that reference a managed prefix list: security groups (a rule whose
source or destination is the list) and route tables. Detection asks it when a prefix list gains an
entry, to find the rules that now open to what the list holds. Here it lists the security groups of the
backend whose ingress or egress rules name the list (route tables are left out: moto's routes do not
record prefix-list destinations the way AWS does), each owned by the backend's account, in group-ID order.
Pagination: every association in one page (NextToken never set), as AWS does for a short list.

Usage: `patch()` from a launcher, before moto's main (moto-serial.py does).
"""

from moto.core.responses import ActionResult
from moto.ec2.responses.vpcs import VPCs


def _associations(backend, prefix_list_id):
    found = {}
    for groups in backend.groups.copy().values():
        for group in groups.copy().values():
            for rule in list(group.ingress_rules) + list(group.egress_rules):
                if getattr(rule, "prefix_list_id", None) == prefix_list_id or any(
                    p.get("PrefixListId") == prefix_list_id for p in getattr(rule, "prefix_list_ids", [])
                ):
                    found[group.id] = {"ResourceId": group.id, "ResourceOwner": group.owner_id}
    return [found[k] for k in sorted(found)]


def patch():
    """Makes moto answer GetManagedPrefixListAssociations (idempotent)."""
    if hasattr(VPCs, "get_managed_prefix_list_associations"):
        return

    def get_managed_prefix_list_associations(self):
        prefix_list_id = self._get_param("PrefixListId")
        return ActionResult({"PrefixListAssociations": _associations(self.ec2_backend, prefix_list_id)})

    VPCs.get_managed_prefix_list_associations = get_managed_prefix_list_associations
