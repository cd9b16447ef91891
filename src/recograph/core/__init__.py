"""The bottom layer: vocabulary and segment rules shared by every other layer."""
