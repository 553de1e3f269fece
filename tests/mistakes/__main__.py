from . import catalog

print(catalog(), end="")
