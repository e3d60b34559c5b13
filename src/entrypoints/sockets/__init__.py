"""The socket surface: the handlers of the events a client sends, and the checks and deadlines every socket passes."""
