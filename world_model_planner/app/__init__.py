"""The application floor: the `wmp` CLI, the stack description, launcher, episode runner,
sessions, reports and the lifecycle manager. It may import every floor below."""
