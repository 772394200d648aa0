"""What one release is: its context, plan, state, worktree, protection and the step catalog."""
