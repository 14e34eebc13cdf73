import { expect, test } from './fixtures';

test('%pip install works offline for a wheel shipped with the site, and explains any other', async ({
  notebook
}) => {
  const cell = await notebook.run(
    '%pip install tqdm\nimport tqdm\nprint("tqdm", tqdm.__version__)'
  );
  await expect(notebook.output(cell)).toContainText(/tqdm \d+\.\d+/);
  await notebook.waitDone(cell);

  const missing = await notebook.run('%pip install no-such-package-xyz');
  await expect(notebook.output(missing)).toContainText('Cannot install no-such-package-xyz');
  await expect(notebook.output(missing)).toContainText('works offline');
});
