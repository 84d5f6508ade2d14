"""The execution cell's operators and technical tokens, pushed to every execution instance."""
