"""The HTTP routes of collections (members' views of their groups, the operator's stuck cycles)
and the answer models they give."""
