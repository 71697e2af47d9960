"""The pieces of `make bench`: processes and their CPU (`proc`), the services it starts
(`stack`), the load tools it drives (`load`), and the report it writes (`report`)."""
