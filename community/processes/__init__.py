"""Co-creation processes: the phase → objective → task tree, templates and clones, teams and
their grants, applications to join, the resource library and success stories; one module each."""
