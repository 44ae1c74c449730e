"""Actions a rollout takes beyond the backend: promotion (make the candidate the stable version
outside the traffic layer) and completion (e.g. mark the tracking task done)."""
