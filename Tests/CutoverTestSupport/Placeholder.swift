enum PlaceholderCutoverTestSupport {}
