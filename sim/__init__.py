"""PyBullet stand-in robot: scenarios, world building, sensors (library) and the sim node."""
