enum PlaceholderCutoverStore {}
