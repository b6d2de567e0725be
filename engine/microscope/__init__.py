"""The microscope: every unit of a model visualized, with its dataset examples, in one folder.

`layout` names the files and writes them atomically, `manifest` says what a folder holds and
refuses one built for another model, recipe or data list, `plan` cuts the work into
deterministic chunks, `work` holds the pure chunk functions an executor maps, `finish` turns
finished chunks into each layer's files, and `local` runs the chunks here, in order.
"""
