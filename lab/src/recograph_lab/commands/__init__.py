"""The lab's ``recograph`` commands, registered as ``recograph.commands`` entry points."""
