"""What ``xtk:queryDef#ExecuteQuery`` reads on an execution instance."""
