"""The HTTP transport: parse requests, call one service function, shape responses."""
