# django-simple-history ships no type information (no py.typed, no stubs package). These stubs type only
# what this project touches; the rest of the package stays Any (module __getattr__).
